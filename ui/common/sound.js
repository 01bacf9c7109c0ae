// Sounds made with WebAudio (no audio file to load or lose): the wall's and the terminal's
// alarms share one AudioContext per page. Browsers keep audio off until the page gets a click,
// a tap or a key: call unlockAudio() from such an event; until then tones() plays nothing and
// the pages show their alarm banners alone, saying how to turn the sound on.

let audio = null;
const listeners = new Set();

/** Starts (or resumes) the page's AudioContext; call it from a user gesture. */
export function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  if (!audio) {
    try { audio = new Ctx(); } catch { return; }
    audio.addEventListener('statechange', () => listeners.forEach((fn) => fn(audible())));
  }
  if (audio.state === 'suspended') audio.resume().catch(() => {});
}

/** Whether a tone played now can be heard. */
export const audible = () => Boolean(audio && audio.state === 'running');

/** `fn(audible)` whenever sound becomes possible or stops being so. */
export function onAudibleChange(fn) {
  listeners.add(fn);
}

/** Square-wave tones at [offset s, Hz], each `length` s long; nothing while sound is off. */
export function tones(notes, length = 0.18, volume = 0.25) {
  if (!audible()) return;
  const t0 = audio.currentTime + 0.02;
  for (const [offset, freq] of notes) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'square';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + offset);
    gain.gain.exponentialRampToValueAtTime(volume, t0 + offset + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + offset + length);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + offset);
    osc.stop(t0 + offset + length + 0.02);
  }
}
