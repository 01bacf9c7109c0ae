# Two commands a user needs: `make demo` and `make test`. Each sets up everything first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Real peers for the ingest tests: ffmpeg (publisher), GStreamer's RTSP server, nginx with the RTMP
# module, Chromium (WHIP publisher and page tests, driven by Playwright), CJK fonts for the pages, and
# Mosquitto (the MQTT broker the IoT devices publish to; the demo starts its own when none listens),
# and Pango for WeasyPrint (the assessment's monthly PDF, its Chinese in fonts-wqy-zenhei).
APT_PACKAGES := python3-venv python3-dev libgl1 libglib2.0-0 ffmpeg \
	gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-tools \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	gstreamer1.0-libav nginx libnginx-mod-rtmp chromium fonts-wqy-zenhei \
	mosquitto mosquitto-clients \
	libpango-1.0-0 libpangoft2-1.0-0

.PHONY: demo test setup system-deps lint bench-route clean

demo: setup
	$(PY) -m command_center demo

# Two processes (pytest-xdist), whole test files to each: the suite takes ~40 min on one core of a
# 2-core machine. Files in collection order, not largest first: tests/conftest.py puts the files
# with slow tests first, so that no long one starts last. TEST_PROCESSES=0 runs it in this process.
TEST_PROCESSES ?= 2
test: setup lint
	$(PY) -m pytest -q --durations=30 -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder

setup: system-deps $(STAMP) node_modules/.installed

# Debian packages the product and its tests need; installed only when missing and when we are root.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (as root: apt-get install$$missing)"; fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Browser libraries for the pages (MapLibre GL JS for the wall's map), pinned in package.json and
# served from node_modules by the app (/vendor/...); `npm ci` when a lock file exists.
node_modules/.installed: package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	  else echo "please install node and npm (as root: apt-get install nodejs npm)"; exit 1; fi; \
	fi
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	touch $@

# ruff (style and bugs), mypy (types; files and settings in pyproject.toml) and import-linter
# (the one-way flow between stages, and no store importing another: pyproject.toml).
lint: setup
	$(VENV)/bin/ruff check command_center streams scenes vision dispatch basedata iot residents assessment bench tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench-route: setup
	$(PY) -m command_center bench route

clean:
	rm -rf var .pytest_cache
