--
-- PostgreSQL database dump
--

\restrict FNXeHGvrWaemdFBuegarLlNDOpSpxXECpbfX5sirmgXvGtxAYM3JKL87Ddake0f

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: audit; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit (
    seq bigint NOT NULL,
    ts text NOT NULL,
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    ip text NOT NULL,
    detail text,
    prev_hash text,
    hash text
);


--
-- Name: audit_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.audit_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: audit_seq_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.audit_seq_seq OWNED BY public.audit.seq;


--
-- Name: case_timeline; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.case_timeline (
    seq bigint NOT NULL,
    case_id text NOT NULL,
    ts text NOT NULL,
    action text NOT NULL,
    actor text NOT NULL,
    from_state text NOT NULL,
    to_state text NOT NULL,
    note text NOT NULL
);


--
-- Name: case_timeline_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.case_timeline_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: case_timeline_seq_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.case_timeline_seq_seq OWNED BY public.case_timeline.seq;


--
-- Name: cases; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cases (
    id text NOT NULL,
    state text NOT NULL,
    is_open integer NOT NULL,
    matter_code text NOT NULL,
    grid_code text NOT NULL,
    assignee text,
    created_at text NOT NULL,
    deadline text NOT NULL,
    version integer NOT NULL,
    doc text NOT NULL,
    lon double precision,
    lat double precision
);


--
-- Name: incidents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.incidents (
    id text NOT NULL,
    ts text NOT NULL,
    camera_id text,
    state text NOT NULL,
    doc text NOT NULL
);


--
-- Name: publish_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.publish_keys (
    id text NOT NULL,
    name text NOT NULL,
    stream text NOT NULL,
    note text DEFAULT ''::text NOT NULL,
    secret_hash text NOT NULL,
    created_at text NOT NULL,
    created_by text NOT NULL,
    rotated_at text,
    revoked_at text
);


--
-- Name: reports; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.reports (
    id text NOT NULL,
    created_at text NOT NULL,
    case_id text,
    doc text NOT NULL
);


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at text NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    username text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL,
    jurisdiction text DEFAULT ''::text NOT NULL,
    worker_id text,
    created_at text NOT NULL,
    disabled integer DEFAULT 0 NOT NULL,
    token_version integer DEFAULT 0 NOT NULL
);


--
-- Name: audit seq; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit ALTER COLUMN seq SET DEFAULT nextval('public.audit_seq_seq'::regclass);


--
-- Name: case_timeline seq; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.case_timeline ALTER COLUMN seq SET DEFAULT nextval('public.case_timeline_seq_seq'::regclass);


--
-- Data for Name: audit; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.audit VALUES (1, '2026-11-01T08:00:00+00:00', 'ann', 'admin', 'login', 'C00', '10.0.0.0', 'detail 0', '', '134272a7b5a99720cc3f9c9320ed27fb0407cde7e7220cc01d6e012f0f88c7bb');
INSERT INTO public.audit VALUES (2, '2026-11-01T08:00:10+00:00', 'ann', 'admin', 'case.accept', 'C01', '10.0.0.1', NULL, '134272a7b5a99720cc3f9c9320ed27fb0407cde7e7220cc01d6e012f0f88c7bb', '82da92ab76ea2ffce4e23e9c263c912d6f665cb8f71ecccd18e45721e789f011');
INSERT INTO public.audit VALUES (3, '2026-11-01T08:00:20+00:00', 'ann', 'admin', 'user.create', 'C02', '10.0.0.2', 'detail 2', '82da92ab76ea2ffce4e23e9c263c912d6f665cb8f71ecccd18e45721e789f011', 'e48c94b4e7c8861f1edad6674732260f8341e61e9490c7361d0de34b0bd604d1');
INSERT INTO public.audit VALUES (4, '2026-11-01T08:00:30+00:00', 'ann', 'admin', 'login', 'C03', '10.0.0.3', NULL, 'e48c94b4e7c8861f1edad6674732260f8341e61e9490c7361d0de34b0bd604d1', '9a52c43a49e58e681cdceaf81d15ddafcf18650c2d64e942940e836340f8fdd6');
INSERT INTO public.audit VALUES (5, '2026-11-01T08:00:40+00:00', 'ann', 'admin', 'case.accept', 'C04', '10.0.0.4', 'detail 4', '9a52c43a49e58e681cdceaf81d15ddafcf18650c2d64e942940e836340f8fdd6', 'fc9eab17a4ceeef2dd2ca4d2f8b17f339bc7cce381d60f0e5972041a0c421d1e');
INSERT INTO public.audit VALUES (6, '2026-11-01T08:00:50+00:00', 'ann', 'admin', 'user.create', 'C05', '10.0.0.5', NULL, 'fc9eab17a4ceeef2dd2ca4d2f8b17f339bc7cce381d60f0e5972041a0c421d1e', '310a54313c65e95ae94d5c24ac3aec86323fb97cc78c68910a3d62f8294441b9');
INSERT INTO public.audit VALUES (7, '2026-11-01T08:01:00+00:00', 'ann', 'admin', 'login', 'C06', '10.0.0.6', 'detail 6', '310a54313c65e95ae94d5c24ac3aec86323fb97cc78c68910a3d62f8294441b9', '194c8a957a85bb8661eb69ba2dc71275b7a0eca6f707fa73b37be0ed45d957ed');


--
-- Data for Name: case_timeline; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.case_timeline VALUES (1, 'C00', '2026-11-01T08:00:00+00:00', 'register', 'system', 'reported', 'registered', 'note 0');
INSERT INTO public.case_timeline VALUES (2, 'C00', '2026-11-01T08:00:00+00:00', 'dispatch', 'system', 'registered', 'dispatched', '');
INSERT INTO public.case_timeline VALUES (3, 'C01', '2026-11-01T08:01:00+00:00', 'register', 'system', 'reported', 'registered', 'note 1');
INSERT INTO public.case_timeline VALUES (4, 'C01', '2026-11-01T08:01:00+00:00', 'dispatch', 'system', 'registered', 'dispatched', '');
INSERT INTO public.case_timeline VALUES (5, 'C01', '2026-11-01T08:02:00+00:00', 'accept', 'W1', 'dispatched', 'accepted', 'accept 1');
INSERT INTO public.case_timeline VALUES (6, 'C02', '2026-11-01T08:02:00+00:00', 'register', 'system', 'reported', 'registered', 'note 2');
INSERT INTO public.case_timeline VALUES (7, 'C02', '2026-11-01T08:02:00+00:00', 'dispatch', 'system', 'registered', 'dispatched', '');
INSERT INTO public.case_timeline VALUES (8, 'C02', '2026-11-01T08:03:00+00:00', 'accept', 'W2', 'dispatched', 'accepted', 'accept 2');
INSERT INTO public.case_timeline VALUES (9, 'C02', '2026-11-01T08:04:00+00:00', 'start', 'W2', 'accepted', 'in_progress', 'start 2');
INSERT INTO public.case_timeline VALUES (10, 'C03', '2026-11-01T08:03:00+00:00', 'register', 'system', 'reported', 'registered', 'note 3');
INSERT INTO public.case_timeline VALUES (11, 'C03', '2026-11-01T08:03:00+00:00', 'dispatch', 'system', 'registered', 'dispatched', '');
INSERT INTO public.case_timeline VALUES (12, 'C03', '2026-11-01T08:04:00+00:00', 'accept', 'W0', 'dispatched', 'accepted', 'accept 3');
INSERT INTO public.case_timeline VALUES (13, 'C03', '2026-11-01T08:05:00+00:00', 'start', 'W0', 'accepted', 'in_progress', 'start 3');
INSERT INTO public.case_timeline VALUES (14, 'C03', '2026-11-01T08:06:00+00:00', 'feedback', 'W0', 'in_progress', 'feedback', 'feedback 3');
INSERT INTO public.case_timeline VALUES (15, 'C04', '2026-11-01T08:04:00+00:00', 'register', 'system', 'reported', 'registered', 'note 4');
INSERT INTO public.case_timeline VALUES (16, 'C04', '2026-11-01T08:04:00+00:00', 'dispatch', 'system', 'registered', 'dispatched', '');
INSERT INTO public.case_timeline VALUES (17, 'C04', '2026-11-01T08:05:00+00:00', 'accept', 'W1', 'dispatched', 'accepted', 'accept 4');
INSERT INTO public.case_timeline VALUES (18, 'C04', '2026-11-01T08:06:00+00:00', 'start', 'W1', 'accepted', 'in_progress', 'start 4');
INSERT INTO public.case_timeline VALUES (19, 'C04', '2026-11-01T08:07:00+00:00', 'feedback', 'W1', 'in_progress', 'feedback', 'feedback 4');
INSERT INTO public.case_timeline VALUES (20, 'C04', '2026-11-01T08:08:00+00:00', 'close', 'W1', 'feedback', 'closed', 'close 4');
INSERT INTO public.case_timeline VALUES (21, 'C05', '2026-11-01T08:05:00+00:00', 'register', 'system', 'reported', 'registered', 'note 5');
INSERT INTO public.case_timeline VALUES (22, 'C05', '2026-11-01T08:05:00+00:00', 'dispatch', 'system', 'registered', 'dispatched', '');


--
-- Data for Name: cases; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.cases VALUES ('C00', 'dispatched', 1, '0100', '440106000001001', 'W0', '2026-11-01T08:00:00+00:00', '2026-11-01T12:00:00+00:00', 0, '{"id": "C00", "state": "dispatched", "matter_code": "0100", "grid_code": "440106000001001", "source": "video", "created_at": "2026-11-01T08:00:00+00:00", "deadline": "2026-11-01T12:00:00+00:00", "location": {"lon": 113.3, "lat": 23.1}, "assignee": "W0", "incident_ids": ["I00"], "description": "坑洼 0", "snapshot_url": null, "external_media_url": null, "level": 0, "returns": 0, "merged_into": null, "deferred_until": null, "department": null, "photos": [], "version": 0, "updated_at": "2026-11-01T08:00:00+00:00", "allowed_actions": ["accept", "escalate", "merge"]}', 113.3, 23.1);
INSERT INTO public.cases VALUES ('C01', 'accepted', 1, '0101', '440106001001001', 'W1', '2026-11-01T08:01:00+00:00', '2026-11-01T12:01:00+00:00', 1, '{"id": "C01", "state": "accepted", "matter_code": "0101", "grid_code": "440106001001001", "source": "video", "created_at": "2026-11-01T08:01:00+00:00", "deadline": "2026-11-01T12:01:00+00:00", "location": {"lon": 113.301, "lat": 23.101000000000003}, "assignee": "W1", "incident_ids": ["I01"], "description": "坑洼 1", "snapshot_url": null, "external_media_url": null, "level": 0, "returns": 0, "merged_into": null, "deferred_until": null, "department": null, "photos": [], "version": 1, "updated_at": "2026-11-01T08:02:00+00:00", "allowed_actions": ["start", "feedback", "escalate", "merge", "defer", "transfer"]}', 113.301, 23.101000000000003);
INSERT INTO public.cases VALUES ('C02', 'in_progress', 1, '0102', '440106000001001', 'W2', '2026-11-01T08:02:00+00:00', '2026-11-01T12:02:00+00:00', 2, '{"id": "C02", "state": "in_progress", "matter_code": "0102", "grid_code": "440106000001001", "source": "video", "created_at": "2026-11-01T08:02:00+00:00", "deadline": "2026-11-01T12:02:00+00:00", "location": {"lon": 113.30199999999999, "lat": 23.102}, "assignee": "W2", "incident_ids": ["I02"], "description": "坑洼 2", "snapshot_url": null, "external_media_url": null, "level": 0, "returns": 0, "merged_into": null, "deferred_until": null, "department": null, "photos": [], "version": 2, "updated_at": "2026-11-01T08:04:00+00:00", "allowed_actions": ["feedback", "escalate", "merge", "defer", "transfer"]}', 113.30199999999999, 23.102);
INSERT INTO public.cases VALUES ('C03', 'feedback', 1, '0100', '440106001001001', 'W0', '2026-11-01T08:03:00+00:00', '2026-11-01T12:03:00+00:00', 3, '{"id": "C03", "state": "feedback", "matter_code": "0100", "grid_code": "440106001001001", "source": "video", "created_at": "2026-11-01T08:03:00+00:00", "deadline": "2026-11-01T12:03:00+00:00", "location": {"lon": 113.303, "lat": 23.103}, "assignee": "W0", "incident_ids": ["I03"], "description": "坑洼 3", "snapshot_url": null, "external_media_url": null, "level": 0, "returns": 0, "merged_into": null, "deferred_until": null, "department": null, "photos": [], "version": 3, "updated_at": "2026-11-01T08:06:00+00:00", "allowed_actions": ["verify", "close", "return", "escalate", "merge"]}', 113.303, 23.103);
INSERT INTO public.cases VALUES ('C04', 'closed', 0, '0101', '440106000001001', 'W1', '2026-11-01T08:04:00+00:00', '2026-11-01T12:04:00+00:00', 4, '{"id": "C04", "state": "closed", "matter_code": "0101", "grid_code": "440106000001001", "source": "video", "created_at": "2026-11-01T08:04:00+00:00", "deadline": "2026-11-01T12:04:00+00:00", "location": {"lon": 113.304, "lat": 23.104000000000003}, "assignee": "W1", "incident_ids": ["I04"], "description": "坑洼 4", "snapshot_url": null, "external_media_url": null, "level": 0, "returns": 0, "merged_into": null, "deferred_until": null, "department": null, "photos": [], "version": 4, "updated_at": "2026-11-01T08:08:00+00:00", "allowed_actions": ["evaluate"]}', 113.304, 23.104000000000003);
INSERT INTO public.cases VALUES ('C05', 'dispatched', 1, '0102', '440106001001001', 'W2', '2026-11-01T08:05:00+00:00', '2026-11-01T12:05:00+00:00', 0, '{"id": "C05", "state": "dispatched", "matter_code": "0102", "grid_code": "440106001001001", "source": "video", "created_at": "2026-11-01T08:05:00+00:00", "deadline": "2026-11-01T12:05:00+00:00", "location": {"lon": 113.30499999999999, "lat": 23.105}, "assignee": "W2", "incident_ids": ["I05"], "description": "坑洼 5", "snapshot_url": null, "external_media_url": null, "level": 0, "returns": 0, "merged_into": null, "deferred_until": null, "department": null, "photos": [], "version": 0, "updated_at": "2026-11-01T08:05:00+00:00", "allowed_actions": ["accept", "escalate", "merge"]}', 113.30499999999999, 23.105);


--
-- Data for Name: incidents; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.incidents VALUES ('I00', '2026-11-01T08:00:00+00:00', 'cam-0', 'dismissed', '{"id": "I00", "ts": "2026-11-01T08:00:00+00:00", "camera_id": "cam-0", "state": "dismissed", "grid_code": "440106001001001", "location": {"lon": 113.3, "lat": 23.1}, "case_id": "C00"}');
INSERT INTO public.incidents VALUES ('I01', '2026-11-01T08:00:01+00:00', 'cam-1', 'new', '{"id": "I01", "ts": "2026-11-01T08:00:01+00:00", "camera_id": "cam-1", "state": "new", "grid_code": "440106001001001", "location": {"lon": 113.3, "lat": 23.1}, "case_id": "C01"}');
INSERT INTO public.incidents VALUES ('I02', '2026-11-01T08:00:02+00:00', 'cam-0', 'dismissed', '{"id": "I02", "ts": "2026-11-01T08:00:02+00:00", "camera_id": "cam-0", "state": "dismissed", "grid_code": "440106001001001", "location": {"lon": 113.3, "lat": 23.1}, "case_id": "C02"}');
INSERT INTO public.incidents VALUES ('I03', '2026-11-01T08:00:03+00:00', 'cam-1', 'new', '{"id": "I03", "ts": "2026-11-01T08:00:03+00:00", "camera_id": "cam-1", "state": "new", "grid_code": "440106001001001", "location": {"lon": 113.3, "lat": 23.1}, "case_id": "C03"}');
INSERT INTO public.incidents VALUES ('I04', '2026-11-01T08:00:04+00:00', 'cam-0', 'dismissed', '{"id": "I04", "ts": "2026-11-01T08:00:04+00:00", "camera_id": "cam-0", "state": "dismissed", "grid_code": "440106001001001", "location": {"lon": 113.3, "lat": 23.1}, "case_id": "C04"}');


--
-- Data for Name: publish_keys; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.publish_keys VALUES ('pk_0', 'drone 0', 'drone-0', '', 'sha256-0', '2026-10-05T00:00:00+00:00', 'ann', NULL, NULL);
INSERT INTO public.publish_keys VALUES ('pk_1', 'drone 1', 'drone-1', '', 'sha256-1', '2026-10-05T00:00:00+00:00', 'ann', NULL, '2026-10-06T00:00:00+00:00');


--
-- Data for Name: reports; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.reports VALUES ('R0', '2026-11-01T08:00:00+00:00', 'C00', '{"id": "R0", "requested_datetime": "2026-11-01T08:00:00+00:00", "case_id": "C00", "description": "井盖缺失", "lon": 113.3, "lat": 23.1}');
INSERT INTO public.reports VALUES ('R1', '2026-11-01T09:00:00+00:00', 'C01', '{"id": "R1", "requested_datetime": "2026-11-01T09:00:00+00:00", "case_id": "C01", "description": "井盖缺失", "lon": 113.3, "lat": 23.1}');
INSERT INTO public.reports VALUES ('R2', '2026-11-01T10:00:00+00:00', 'C02', '{"id": "R2", "requested_datetime": "2026-11-01T10:00:00+00:00", "case_id": "C02", "description": "井盖缺失", "lon": 113.3, "lat": 23.1}');


--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES (1, 'initial', '2026-12-05T09:15:55+00:00');
INSERT INTO public.schema_migrations VALUES (2, 'case_location', '2026-12-05T09:15:55+00:00');
INSERT INTO public.schema_migrations VALUES (3, 'user_sessions', '2026-12-05T09:15:55+00:00');
INSERT INTO public.schema_migrations VALUES (4, 'publish_keys', '2026-12-05T09:15:55+00:00');
INSERT INTO public.schema_migrations VALUES (5, 'audit_chain', '2026-12-05T09:15:55+00:00');


--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.users VALUES ('ann', '$argon2id$ann', 'admin', '', NULL, '2026-10-01T00:00:00+00:00', 0, 0);
INSERT INTO public.users VALUES ('bob', '$argon2id$bob', 'worker', '440106', 'W1', '2026-10-02T00:00:00+00:00', 0, 0);
INSERT INTO public.users VALUES ('cy', '$argon2id$cy', 'officer', '4401', NULL, '2026-10-03T00:00:00+00:00', 1, 2);


--
-- Name: audit_seq_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_seq_seq', 7, true);


--
-- Name: case_timeline_seq_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.case_timeline_seq_seq', 22, true);


--
-- Name: audit audit_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (seq);


--
-- Name: case_timeline case_timeline_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.case_timeline
    ADD CONSTRAINT case_timeline_pkey PRIMARY KEY (seq);


--
-- Name: cases cases_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_pkey PRIMARY KEY (id);


--
-- Name: incidents incidents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.incidents
    ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);


--
-- Name: publish_keys publish_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.publish_keys
    ADD CONSTRAINT publish_keys_pkey PRIMARY KEY (id);


--
-- Name: reports reports_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_pkey PRIMARY KEY (id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (username);


--
-- Name: audit_actor; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_actor ON public.audit USING btree (actor, seq);


--
-- Name: case_timeline_case; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX case_timeline_case ON public.case_timeline USING btree (case_id, seq);


--
-- Name: cases_assignee; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cases_assignee ON public.cases USING btree (assignee, is_open);


--
-- Name: cases_open_matter; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cases_open_matter ON public.cases USING btree (is_open, matter_code, created_at);


--
-- Name: cases_open_matter_lon; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cases_open_matter_lon ON public.cases USING btree (is_open, matter_code, lon);


--
-- Name: incidents_ts; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX incidents_ts ON public.incidents USING btree (ts);


--
-- Name: publish_keys_stream; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX publish_keys_stream ON public.publish_keys USING btree (stream);


--
-- Name: reports_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX reports_created ON public.reports USING btree (created_at);


--
-- PostgreSQL database dump complete
--

\unrestrict FNXeHGvrWaemdFBuegarLlNDOpSpxXECpbfX5sirmgXvGtxAYM3JKL87Ddake0f

