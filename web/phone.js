// "Watch on phone", a part of decoder's dashboard: on this machine (where
// decoder answers /config), a button for each named stream and one for all
// of them ask decoder for a viewer link (POST /tokens), which the panel
// shows with its QR code, for a phone on the same network to open.

/**
 * Sets up the panel, and returns whether the page is on this machine
 * (`local`, once `ready` has settled) and a maker of buttons for other
 * parts of the page, such as the rows of the streams table.
 * @param {HTMLElement} panel the #watch-on-phone section
 * @param {Record<string, string>} ui the page's words in its language
 */
export function watchOnPhone(panel, ui) {
  const phone = {
    local: false,
    /** @param {string[]} streams @param {string} label */
    button(streams, label) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'quiet phone';
      b.textContent = label;
      b.dataset.streams = streams.join(',');
      b.addEventListener('click', () => ask(streams));
      return b;
    },
    ready: Promise.resolve(),
  };

  /**
   * Asks decoder for a link to streams and shows it, or why not.
   * @param {string[]} streams
   */
  async function ask(streams) {
    const box = /** @type {HTMLElement} */ (panel.querySelector('.link'));
    const ttl = /** @type {HTMLSelectElement} */ (panel.querySelector('.ttl')).value;
    const res = await fetch('/tokens', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ streams, ttl, name: 'phone' }) });
    const env = await res.json();
    const img = /** @type {HTMLImageElement} */ (box.querySelector('img'));
    const a = /** @type {HTMLAnchorElement} */ (box.querySelector('a'));
    const until = /** @type {HTMLElement} */ (box.querySelector('.until'));
    const warning = /** @type {HTMLElement} */ (box.querySelector('.warning'));
    panel.hidden = box.hidden = false;
    img.hidden = !res.ok;
    if (!res.ok) {
      a.textContent = until.textContent = '';
      warning.textContent = ui.phoneFailed + env.message;
      return;
    }
    img.src = env.data.qr;
    a.href = a.textContent = env.data.url;
    until.textContent = `${ui.phoneUntil} ${new Date(env.data.expires_at).toLocaleString()}`;
    warning.textContent = env.data.warning || '';
    box.scrollIntoView({ block: 'nearest' });
  }

  /** Shows the panel with its buttons if decoder answers /config. */
  async function load() {
    const res = await fetch('/config').catch(() => null);
    if (!res || !res.ok) return;
    const config = (await res.json()).data;
    /** @type {{name: string, url: string}[]} */
    const streams = config.streams || [];
    phone.local = true;
    const buttons = /** @type {HTMLElement} */ (panel.querySelector('.buttons'));
    if (streams.length) {
      buttons.replaceChildren(...streams.map((s) => phone.button([s.name], s.name)), ' ', phone.button(['*'], ui.phoneAll));
    } else {
      buttons.textContent = config.path ? `${ui.phoneNone} (${config.path})` : ui.phoneNone;
    }
    panel.hidden = false;
    if (location.hash === '#' + panel.id) panel.scrollIntoView();
  }

  phone.ready = load();
  return phone;
}
