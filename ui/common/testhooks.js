// The one way a page hands objects to browser tests and to someone debugging at the console:
// exposeTestHooks({...}) puts them under `window.cc`, and nothing else touches window.cc.
// Page code never reads these hooks back; they are for tests/test_pages.py,
// tests/test_terminal_report.py and the devtools console only.
//
// What each page exposes (keep in step with its exposeTestHooks call):
//   wall       socket, cameras, feed, board, charts, reload(channel), map() (the CityMap, once loaded), basedata
//   terminal   socket, store, outbox, reload(), rounds
//   basedata   reload()  (and `basedata`: the page's state)
//   emergency  socket, modes, reload()
//   chats      chat (the ChatPanel)

/** Adds `hooks` to window.cc (a page may call it more than once). */
export function exposeTestHooks(hooks) {
  window.cc = Object.assign(window.cc || {}, hooks);
}
