"""ONVIF PTZ: a camera's presets and GotoPreset, over SOAP 1.2 with httpx.

Each request carries a WS-Security UsernameToken with a password digest
(Base64(SHA-1(nonce + created + password))), which ONVIF Profile S cameras accept; cameras
that want HTTP digest authentication instead are not covered. The digest includes the
time: a camera whose clock is far off refuses it.

Config: `ptz: {kind: onvif, url: http://cam/onvif/ptz_service, user, password}`, and
`profile` (a media profile token) or `media_url` where GetProfiles is answered when that
is not the PTZ address.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import xml.etree.ElementTree as ET  # resolves no external entities; expat caps entity expansion
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import httpx

from streams.ptz import Ptz, PtzConfig, PtzError, UnknownPreset, register_ptz

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
}
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


def password_digest(nonce: bytes, created: str, password: str) -> str:
    # SHA-1 is what the UsernameToken profile names; the camera checks exactly this.
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def envelope(body: str, user: str, password: str, nonce: bytes | None = None, created: str | None = None) -> bytes:
    """A SOAP 1.2 envelope around `body` (XML), signed with a UsernameToken when a user is set."""
    header = ""
    if user:
        nonce = nonce if nonce is not None else os.urandom(16)
        created = created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        header = (
            f'<s:Header><wsse:Security s:mustUnderstand="1" xmlns:wsse="{NS["wsse"]}" xmlns:wsu="{NS["wsu"]}">'
            f"<wsse:UsernameToken><wsse:Username>{escape(user)}</wsse:Username>"
            f'<wsse:Password Type="{PASSWORD_DIGEST}">{password_digest(nonce, created, password)}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{NS["s"]}">{header}<s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


class OnvifPtz:
    def __init__(
        self,
        url: str,
        user: str = "",
        password: str = "",
        profile: str | None = None,
        media_url: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.media_url = media_url or url
        self.user = user
        self.password = password
        self.timeout_s = timeout_s
        self._profile = profile
        self._lock = threading.Lock()  # one request at a time per camera: a head moves one way

    def presets(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self._presets()]

    def goto_preset(self, name: str) -> None:
        with self._lock:
            known = self._presets()
            token = next((tok for label, tok in known if label == name), None)
            if token is None:
                raise UnknownPreset(name, [label for label, _ in known])
            self._call(
                self.url,
                f"{NS['tptz']}/GotoPreset",
                f'<tptz:GotoPreset xmlns:tptz="{NS["tptz"]}"><tptz:ProfileToken>{escape(self._profile_token())}'
                f"</tptz:ProfileToken><tptz:PresetToken>{escape(token)}</tptz:PresetToken></tptz:GotoPreset>",
            )

    def _presets(self) -> list[tuple[str, str]]:
        """(name, token) of each preset; a preset without a name goes by its token."""
        body = self._call(
            self.url,
            f"{NS['tptz']}/GetPresets",
            f'<tptz:GetPresets xmlns:tptz="{NS["tptz"]}"><tptz:ProfileToken>{escape(self._profile_token())}'
            "</tptz:ProfileToken></tptz:GetPresets>",
        )
        out = []
        for preset in body.iter(f"{{{NS['tptz']}}}Preset"):
            token = preset.get("token")
            if token:
                name = preset.findtext(f"{{{NS['tt']}}}Name") or token
                out.append((name.strip(), token))
        return out

    def _profile_token(self) -> str:
        if self._profile is None:
            body = self._call(self.media_url, f"{NS['trt']}/GetProfiles", f'<trt:GetProfiles xmlns:trt="{NS["trt"]}"/>')
            profile = next(body.iter(f"{{{NS['trt']}}}Profiles"), None)
            if profile is None or not profile.get("token"):
                raise PtzError(f"{self.media_url}: the camera lists no media profile")
            self._profile = profile.get("token")
        assert self._profile is not None
        return self._profile

    def _call(self, url: str, action: str, body: str) -> ET.Element:
        """One SOAP request; the reply's Body, or PtzError with the camera's reason."""
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
        try:
            reply = httpx.post(url, content=envelope(body, self.user, self.password), headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise PtzError(f"{url}: {type(exc).__name__}: {exc}") from None
        try:
            root = ET.fromstring(reply.content)
        except ET.ParseError:
            raise PtzError(f"{url}: HTTP {reply.status_code}, not a SOAP reply") from None
        found = root.find("s:Body", NS)
        if found is None:
            raise PtzError(f"{url}: HTTP {reply.status_code}, a SOAP reply without a Body")
        fault = found.find("s:Fault", NS)
        if fault is not None or reply.status_code >= 400:
            reason = fault.findtext("s:Reason/s:Text", default="", namespaces=NS) if fault is not None else ""
            raise PtzError(f"{url}: {action.rsplit('/', 1)[-1]} refused (HTTP {reply.status_code}): {reason or 'no reason given'}")
        return found


@register_ptz("onvif")
def _onvif(_camera_id: str, config: PtzConfig) -> Ptz:
    assert config.url is not None  # PtzConfig requires it for onvif
    return OnvifPtz(config.url, config.user, config.password, config.profile, config.media_url, config.timeout_s)
