// imgkit console: a client of the public /v1 API, nothing else. The API key lives in
// sessionStorage and travels only in the Authorization header (never in a URL). Every value
// shown comes from the API and is put into the page as text, never as HTML.
import { decode } from './vendor/blurhash.js';

const KEY = 'imgkit.apiKey';
const main = document.getElementById('main');
const live = document.getElementById('status');
const TERMINAL = new Set(['completed', 'failed']);
/** Timers and pollers of the current page, stopped when the page changes. */
let pageTimers = [];
/**
 * Which call of route() may still draw the page. route() awaits the API, so a slow, older call
 * (a refresh after Replay, say) can finish after the user has moved on; it must not draw over
 * the newer page, nor leave its pollers running.
 */
let routeGeneration = 0;

// ---------------------------------------------------------------- DOM and API helpers

/** An element with attributes (on* are listeners) and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Number.POSITIVE_INFINITY)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function announce(text) {
  live.textContent = '';
  setTimeout(() => {
    live.textContent = text;
  }, 50);
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Calls the API with the bearer key; JSON in and out; problem+json becomes an ApiError. */
async function api(path, { method = 'GET', json, body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: json !== undefined ? JSON.stringify(json) : body });
  if (res.status === 401) {
    signOut('The API key was refused; sign in again.');
    throw new ApiError(401, { detail: 'unauthorized' });
  }
  if (!res.ok) {
    const problem = await res.json().catch(() => undefined);
    throw new ApiError(res.status, problem);
  }
  if (raw) return res;
  return res.status === 204 ? undefined : res.json();
}

function errorText(err) {
  const p = err instanceof ApiError ? err.problem : undefined;
  if (p?.errors?.length) return p.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return p?.code ? `${p.code}: ${err.message}` : String(err.message ?? err);
}

const bytes = (n) =>
  n === null || n === undefined
    ? '—'
    : n < 1024
      ? `${n} B`
      : n < 1048576
        ? `${(n / 1024).toFixed(1)} KB`
        : `${(n / 1048576).toFixed(1)} MB`;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const badge = (status) => h('span', { class: `badge ${status}` }, status);

/** A key/value table; values that are lists or objects are shown as JSON. */
function kvTable(caption, entries) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Tag'), h('th', { scope: 'col' }, 'Value'))),
      h(
        'tbody',
        {},
        entries.map(([k, v]) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, k),
            h('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)),
          ),
        ),
      ),
    ),
  );
}

/** Signed URLs for a rendering of each image (one request per image; cached for the session). */
const urlCache = new Map();
async function signedUrl(id, spec) {
  const key = `${id}|${JSON.stringify(spec)}`;
  if (!urlCache.has(key)) {
    urlCache.set(
      key,
      api(`/v1/images/${id}/urls`, { method: 'POST', json: { urls: [spec] } }).then((r) => r.urls[0].url),
    );
  }
  return urlCache.get(key).catch((err) => {
    urlCache.delete(key);
    throw err;
  });
}
const THUMB = { width: 320, height: 320, fit: 'cover', format: 'auto' };

/** Downloads a protected resource (it needs the bearer header) as a file. */
async function download(path, fallbackName) {
  const res = await api(path, { raw: true });
  const disposition = res.headers.get('Content-Disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  announce(`Downloaded ${name}`);
}

function every(ms, fn) {
  const generation = routeGeneration;
  const t = setInterval(() => {
    // A timer set up by a page that was never shown (its route was overtaken) stops itself.
    if (generation !== routeGeneration) clearInterval(t);
    else fn();
  }, ms);
  pageTimers.push(() => clearInterval(t));
}

// ---------------------------------------------------------------- sign-in and routing

function signOut(message) {
  sessionStorage.removeItem(KEY);
  urlCache.clear();
  renderSignIn(message);
}

function renderSignIn(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('sign-out').hidden = true;
  document.getElementById('account').textContent = '';
  const input = h('input', {
    id: 'api-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'key-hint',
  });
  const error = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    {
      class: 'signin',
      onsubmit: async (e) => {
        e.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        try {
          await start();
        } catch (err) {
          sessionStorage.removeItem(KEY);
          error.textContent = errorText(err);
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input),
    h(
      'p',
      { class: 'hint', id: 'key-hint' },
      'Kept in this tab only (sessionStorage) and sent as the Authorization header.',
    ),
    error,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  main.replaceChildren(form);
  input.focus();
}

let account;
async function start() {
  account = await api('/v1/account');
  document.getElementById('nav').hidden = false;
  document.getElementById('sign-out').hidden = false;
  document.getElementById('account').textContent = `${account.name} · ${account.id}`;
  if (!location.hash || location.hash === '#') location.hash = '#/images';
  else route();
}

const ROUTES = [
  [/^#\/images$/, () => imagesPage()],
  [/^#\/images\/(img_[0-9A-Za-z]{27})$/, (m) => imagePage(m[1])],
  [/^#\/jobs$/, () => jobsPage()],
  [/^#\/queue$/, () => queuePage()],
  [/^#\/webhooks$/, () => webhooksPage()],
];

async function route() {
  if (!sessionStorage.getItem(KEY)) return renderSignIn();
  const generation = ++routeGeneration;
  for (const stop of pageTimers) stop();
  pageTimers = [];
  const hash = location.hash || '#/images';
  for (const a of document.querySelectorAll('#nav a')) {
    if (hash.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const found = ROUTES.map(([re, page]) => [re.exec(hash), page]).find(([m]) => m);
  main.replaceChildren(h('p', {}, 'Loading…'));
  try {
    const page = found ? await found[1](found[0]) : h('h1', {}, 'Not found');
    if (generation !== routeGeneration) return;
    main.replaceChildren(page);
    main.focus();
  } catch (err) {
    if (generation !== routeGeneration) return;
    if (err instanceof ApiError && err.status === 401) return;
    main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, errorText(err)));
  }
}

// ---------------------------------------------------------------- images

async function imagesPage() {
  const grid = h('ul', { class: 'grid', 'aria-label': 'Images, newest first' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const message = h('p', { class: 'error', role: 'alert' });
  const filter = h(
    'select',
    { id: 'status-filter' },
    ['', 'pending', 'processing', 'completed', 'failed'].map((s) =>
      h('option', { value: s, selected: s === currentFilter }, s || 'all'),
    ),
  );
  let cursor;
  const cards = new Map();

  function card(image) {
    const thumb = h('div', { class: 'thumb' }, image.status === 'completed' ? '' : image.status);
    const li = h(
      'li',
      { class: 'card', 'data-id': image.id },
      h(
        'a',
        { href: `#/images/${image.id}` },
        thumb,
        h(
          'div',
          { class: 'meta' },
          h('span', { class: 'name' }, image.filename ?? image.url ?? image.id),
          badge(image.status),
        ),
      ),
    );
    li.image = image;
    if (image.status === 'completed') {
      signedUrl(image.id, THUMB).then(
        (url) =>
          thumb.replaceChildren(h('img', { src: url, alt: image.filename ?? image.id, loading: 'lazy' })),
        () => thumb.replaceChildren('no preview'),
      );
    }
    cards.set(image.id, li);
    return li;
  }

  async function load() {
    const q = new URLSearchParams({ limit: '24' });
    if (currentFilter) q.set('status', currentFilter);
    if (cursor) q.set('starting_after', cursor);
    const page = await api(`/v1/images?${q}`);
    grid.append(...page.data.map(card));
    cursor = page.data.at(-1)?.id;
    more.hidden = !page.has_more;
  }

  /**
   * Live status: while any card is not completed or failed, one request a second re-reads the
   * newest images (one list call, not one per image: the API key's rate limit is shared).
   */
  async function refreshUnfinished() {
    const waiting = [...cards.values()].filter((li) => !TERMINAL.has(li.image.status));
    if (!waiting.length) return;
    const page = await api('/v1/images?limit=100').catch(() => undefined);
    for (const image of page?.data ?? []) {
      const li = cards.get(image.id);
      if (!li || image.status === li.image.status) continue;
      li.replaceWith(card(image));
      if (TERMINAL.has(image.status)) announce(`${image.filename ?? image.id}: ${image.status}`);
    }
  }
  every(1000, () => void refreshUnfinished());

  async function created(promise, label) {
    try {
      const image = await promise;
      grid.prepend(card(image));
      announce(`${label} accepted`);
    } catch (err) {
      message.textContent = `${label}: ${errorText(err)}`;
    }
  }
  const uploadFiles = (files) => {
    for (const file of files) {
      const form = new FormData();
      form.set('filename', file.name);
      form.set('file', file, file.name);
      void created(api('/v1/images', { method: 'POST', body: form }), file.name);
    }
  };

  const fileInput = h('input', {
    id: 'file-input',
    type: 'file',
    accept: 'image/*',
    multiple: true,
    onchange: (e) => {
      uploadFiles(e.target.files);
      e.target.value = '';
    },
  });
  const drop = h(
    'div',
    {
      class: 'dropzone',
      ondragover: (e) => {
        e.preventDefault();
        drop.classList.add('over');
      },
      ondragleave: () => drop.classList.remove('over'),
      ondrop: (e) => {
        e.preventDefault();
        drop.classList.remove('over');
        uploadFiles(e.dataTransfer.files);
      },
    },
    h('label', { for: 'file-input' }, 'Upload images'),
    fileInput,
    h('p', { class: 'hint' }, 'or drop files here'),
  );
  const urlInput = h('input', { id: 'image-url', type: 'url', placeholder: 'https://…', required: true });
  const urlForm = h(
    'form',
    {
      class: 'row',
      onsubmit: (e) => {
        e.preventDefault();
        void created(api('/v1/images', { method: 'POST', json: { url: urlInput.value } }), urlInput.value);
        urlInput.value = '';
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'image-url' }, 'Image or page URL'), urlInput),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Add by URL')),
  );
  filter.addEventListener('change', () => {
    currentFilter = filter.value;
    void route();
  });
  more.addEventListener('click', () => void load());
  await load();
  return h(
    'div',
    {},
    h('h1', {}, 'Images'),
    drop,
    urlForm,
    message,
    h('div', { class: 'field' }, h('label', { for: 'status-filter' }, 'Status'), filter),
    grid,
    h('p', {}, more),
  );
}
let currentFilter = '';

// ---------------------------------------------------------------- one image

/** exiftool's family-1 group of a tag we report (IFD0, ExifIFD, InteropIFD, IFD1). */
const IFD0 = new Set(
  'ImageWidth ImageHeight BitsPerSample PhotometricInterpretation ImageDescription Make Model Orientation SamplesPerPixel XResolution YResolution PlanarConfiguration ResolutionUnit Software ModifyDate Artist HostComputer WhitePoint PrimaryChromaticities YCbCrCoefficients YCbCrSubSampling YCbCrPositioning ReferenceBlackWhite Copyright Rating RatingPercent XPTitle XPComment XPAuthor XPKeywords XPSubject'.split(
    ' ',
  ),
);
const INTEROP = new Set(['InteropIndex', 'InteropVersion', 'RelatedImageWidth', 'RelatedImageHeight']);
const IFD1 = new Set(['Compression', 'ThumbnailOffset', 'ThumbnailLength']);
function exifGroup(tag) {
  return IFD0.has(tag) ? 'IFD0' : INTEROP.has(tag) ? 'InteropIFD' : IFD1.has(tag) ? 'IFD1' : 'ExifIFD';
}

async function imagePage(id) {
  const image = await api(`/v1/images/${id}`);
  const left = h('div', {});
  const right = h('div', {});
  const f = image.format ?? {};

  if (image.status === 'completed') {
    const preview = h('div', { class: 'preview' }, 'Loading preview…');
    signedUrl(id, { width: 1200, format: 'auto' }).then(
      (url) => preview.replaceChildren(h('img', { src: url, alt: `Preview of ${image.filename ?? id}` })),
      (err) => preview.replaceChildren(`No preview: ${errorText(err)}`),
    );
    left.append(
      h('section', { 'aria-labelledby': 'h-preview' }, h('h2', { id: 'h-preview' }, 'Preview'), preview),
    );
  } else if (!TERMINAL.has(image.status)) {
    every(1000, async () => {
      const now = await api(`/v1/images/${id}`).catch(() => undefined);
      if (now && now.status !== image.status) void route();
    });
  }

  const facts = [
    ['Status', badge(image.status)],
    ['Dimensions', image.width ? `${image.width} × ${image.height} px` : '—'],
    ['Format', f.name ? `${f.name}${f.animated ? ` (animated, ${f.pages} frames)` : ''}` : '—'],
    ['Content type', image.content_type ?? '—'],
    ['Size', bytes(image.byte_size)],
    ['Checksum (SHA-256)', h('span', { class: 'mono' }, image.checksum ?? '—')],
    ['Orientation', image.orientation ?? '—'],
    [
      'Colour',
      f.color_space ? `${f.color_space}, ${f.bit_depth ?? '?'} bit${f.has_alpha ? ', alpha' : ''}` : '—',
    ],
    ['ICC profile', f.icc_profile ?? '—'],
    ['Taken', image.taken_at ?? '—'],
    ['Source', image.url ?? image.source],
    ['Created', when(image.created_at)],
    ['Attempts', image.attempts],
  ];
  right.append(
    h(
      'section',
      { 'aria-labelledby': 'h-summary' },
      h('h2', { id: 'h-summary' }, 'Summary'),
      h(
        'dl',
        { class: 'facts' },
        facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
    ),
  );
  if (image.error) {
    right.append(
      h(
        'section',
        { 'aria-labelledby': 'h-error', class: 'error' },
        h('h2', { id: 'h-error' }, 'Failure'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Code'),
          h('dd', { class: 'mono' }, image.error.code),
          image.error.rule ? [h('dt', {}, 'Rule'), h('dd', { class: 'mono' }, image.error.rule)] : [],
          h('dt', {}, 'Message'),
          h('dd', {}, image.error.message ?? '—'),
        ),
      ),
    );
  }
  if (image.phash || image.dhash) {
    right.append(
      h(
        'section',
        { 'aria-labelledby': 'h-hashes' },
        h('h2', { id: 'h-hashes' }, 'Perceptual hashes'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'pHash'),
          h('dd', { class: 'mono' }, image.phash ?? '—'),
          h('dt', {}, 'dHash'),
          h('dd', { class: 'mono' }, image.dhash ?? '—'),
          image.hash_degenerate
            ? [h('dt', {}, 'Note'), h('dd', {}, 'flat image: left out of similarity')]
            : [],
        ),
      ),
    );
  }
  if (image.palette?.length) {
    right.append(
      h(
        'section',
        { 'aria-labelledby': 'h-palette' },
        h('h2', { id: 'h-palette' }, 'Palette'),
        h(
          'ul',
          { class: 'swatches', 'aria-label': 'Dominant colours' },
          image.palette.map((p) => {
            const chip = h('span', { class: 'chip', 'aria-hidden': 'true' });
            chip.style.background = /^#[0-9a-f]{6}$/i.test(p.color) ? p.color : 'transparent';
            return h('li', { class: 'swatch' }, chip, `${p.color} · ${Math.round(p.weight * 100)} %`);
          }),
        ),
      ),
    );
  }
  if (image.placeholder) {
    const canvas = h('canvas', {
      class: 'placeholder',
      width: 32,
      height: Math.max(1, Math.round((32 * (image.height ?? 1)) / (image.width ?? 1))),
      role: 'img',
      'aria-label': `BlurHash placeholder ${image.placeholder}`,
    });
    try {
      const pixels = decode(image.placeholder, canvas.width, canvas.height);
      const ctx = canvas.getContext('2d');
      const data = ctx.createImageData(canvas.width, canvas.height);
      data.data.set(pixels);
      ctx.putImageData(data, 0, 0);
    } catch {
      canvas.setAttribute('aria-label', 'The placeholder could not be decoded');
    }
    right.append(
      h(
        'section',
        { 'aria-labelledby': 'h-placeholder' },
        h('h2', { id: 'h-placeholder' }, 'Placeholder'),
        canvas,
        h('p', { class: 'hint mono' }, image.placeholder),
      ),
    );
  }

  const exif = Object.entries(image.exif ?? {});
  if (exif.length) {
    const groups = new Map();
    for (const [k, v] of exif) {
      const g = exifGroup(k);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push([k, v]);
    }
    left.append(
      h(
        'section',
        { 'aria-labelledby': 'h-exif' },
        h('h2', { id: 'h-exif' }, 'EXIF'),
        ['IFD0', 'ExifIFD', 'InteropIFD', 'IFD1']
          .filter((g) => groups.has(g))
          .map((g) => kvTable(`[${g}]`, groups.get(g))),
      ),
    );
  }
  if (image.gps) {
    left.append(
      h(
        'section',
        { 'aria-labelledby': 'h-gps' },
        h('h2', { id: 'h-gps' }, 'GPS'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Latitude'),
          h('dd', { class: 'mono' }, image.gps.latitude),
          h('dt', {}, 'Longitude'),
          h('dd', { class: 'mono' }, image.gps.longitude),
          h('dt', {}, 'Altitude'),
          h('dd', { class: 'mono' }, image.gps.altitude ?? '—'),
        ),
      ),
    );
  }
  const xmp = image.xmp ?? {};
  const crs = xmp.crs;
  if (crs && typeof crs === 'object') {
    const presetButton = h(
      'button',
      {
        type: 'button',
        onclick: () =>
          download(`/v1/images/${id}/lightroom-preset`, `${id}.xmp`).catch((err) => {
            presetButton.after(h('p', { class: 'error', role: 'alert' }, errorText(err)));
          }),
      },
      'Download Lightroom preset',
    );
    left.append(
      h(
        'section',
        { 'aria-labelledby': 'h-crs' },
        h('h2', { id: 'h-crs' }, 'Lightroom develop settings (crs:)'),
        h('p', {}, presetButton),
        kvTable('Camera Raw settings', Object.entries(crs)),
      ),
    );
  }
  const namespaces = Object.entries(xmp).filter(([ns, v]) => ns !== 'crs' && v && typeof v === 'object');
  if (namespaces.length) {
    left.append(
      h(
        'section',
        { 'aria-labelledby': 'h-xmp' },
        h('h2', { id: 'h-xmp' }, 'XMP'),
        namespaces.map(([ns, v]) => kvTable(`[XMP-${ns}]`, Object.entries(v))),
      ),
    );
  }
  if (image.iptc && Object.keys(image.iptc).length) {
    left.append(
      h(
        'section',
        { 'aria-labelledby': 'h-iptc' },
        h('h2', { id: 'h-iptc' }, 'IPTC'),
        kvTable('[IPTC]', Object.entries(image.iptc)),
      ),
    );
  }
  const variants = Object.entries(image.variants ?? {});
  if (variants.length) {
    left.append(
      h(
        'section',
        { 'aria-labelledby': 'h-variants' },
        h('h2', { id: 'h-variants' }, 'Variants'),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Name', 'Size', 'Format', 'Bytes', ''].map((c) => h('th', { scope: 'col' }, c)),
              ),
            ),
            h(
              'tbody',
              {},
              variants.map(([name, v]) =>
                h(
                  'tr',
                  {},
                  h('td', {}, name),
                  h('td', {}, `${v.width} × ${v.height}`),
                  h('td', {}, v.format),
                  h('td', {}, bytes(v.byte_size)),
                  h(
                    'td',
                    {},
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary',
                        onclick: () => download(`/v1/images/${id}/variants/${name}`, `${id}-${name}.jpg`),
                      },
                      `Download ${name}`,
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  const dupes = h('div', {}, 'Searching…');
  right.append(
    h('section', { 'aria-labelledby': 'h-dupes' }, h('h2', { id: 'h-dupes' }, 'Near-duplicates'), dupes),
  );
  if (image.status === 'completed' && image.phash) {
    api(`/v1/images/${id}/similar?hash=phash&max_distance=12&limit=12`).then(
      (r) => {
        if (!r.data.length) return dupes.replaceChildren('None within 12 bits.');
        dupes.replaceChildren(
          h(
            'ul',
            { class: 'dupes' },
            r.data.map((m) => {
              const img = h('div', { class: 'thumb' });
              signedUrl(m.image.id, THUMB).then(
                (url) => img.replaceChildren(h('img', { src: url, alt: m.image.filename ?? m.image.id })),
                () => undefined,
              );
              return h(
                'li',
                { class: 'dupe' },
                h(
                  'a',
                  { href: `#/images/${m.image.id}` },
                  img,
                  h('span', {}, `pHash ${m.phash_distance} · dHash ${m.dhash_distance ?? '—'} bits`),
                ),
              );
            }),
          ),
        );
      },
      (err) => dupes.replaceChildren(errorText(err)),
    );
  } else {
    dupes.replaceChildren(image.status === 'completed' ? 'No hash.' : 'Once the image is processed.');
  }

  right.append(await deliveriesSection({ image_id: id }, 'Webhook deliveries about this image'));

  const actions = h(
    'p',
    { class: 'row' },
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: () => download(`/v1/images/${id}/original`, image.filename ?? id),
      },
      'Download original',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: async () => {
          await api(`/v1/images/${id}/purge`, { method: 'POST' });
          for (const k of urlCache.keys()) if (k.startsWith(id)) urlCache.delete(k);
          announce('Renderings purged');
          void route();
        },
      },
      'Purge renderings',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          if (!confirm(`Delete ${id} and everything made from it?`)) return;
          await api(`/v1/images/${id}`, { method: 'DELETE' });
          location.hash = '#/images';
        },
      },
      'Delete image',
    ),
  );
  return h(
    'div',
    {},
    h('p', {}, h('a', { href: '#/images' }, '← Images')),
    h('h1', {}, image.filename ?? image.id),
    h('p', { class: 'hint mono' }, image.id),
    actions,
    h('div', { class: 'detail' }, left, right),
  );
}

/** The delivery log (filtered), with each attempt and a replay button. */
async function deliveriesSection(filter, title) {
  const q = new URLSearchParams({ limit: '50', ...filter });
  const list = await api(`/v1/webhook-messages?${q}`);
  const body = list.data.length
    ? h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Event', 'To', 'Status', 'Attempts', 'Created', ''].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            list.data.map((m) => {
              const replay = h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'aria-label': `Replay ${m.event_type} ${m.id}`,
                  onclick: async () => {
                    replay.disabled = true;
                    try {
                      await api(`/v1/webhook-messages/${m.id}/retry`, { method: 'POST' });
                      announce('Delivery queued again');
                      void route();
                    } catch (err) {
                      replay.after(h('span', { class: 'error', role: 'alert' }, errorText(err)));
                      replay.disabled = false;
                    }
                  },
                },
                'Replay',
              );
              const attempts = h(
                'details',
                {},
                h('summary', {}, `${m.attempts}`),
                h(
                  'ul',
                  {},
                  m.attempt_log.map((a) =>
                    h(
                      'li',
                      {},
                      `${when(a.attempted_at)} → ${a.status_code ?? a.error ?? '—'} (${a.latency_ms} ms)`,
                    ),
                  ),
                ),
              );
              return h(
                'tr',
                { 'data-message': m.id },
                h('td', {}, m.event_type),
                h('td', { class: 'mono' }, m.url),
                h('td', {}, badge(m.status), m.last_error ? h('div', { class: 'hint' }, m.last_error) : ''),
                h('td', {}, attempts),
                h('td', {}, when(m.created_at)),
                h('td', {}, replay),
              );
            }),
          ),
        ),
      )
    : h('p', {}, 'No deliveries.');
  return h('section', { 'aria-labelledby': 'h-deliveries' }, h('h2', { id: 'h-deliveries' }, title), body);
}

// ---------------------------------------------------------------- jobs

async function jobsPage() {
  const out = h('div', { class: 'output', 'aria-live': 'polite' });
  const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
  const source = h('input', { id: 'job-source', required: true, placeholder: 'img_… or https://…' });
  const operation = h(
    'select',
    { id: 'job-operation' },
    ['thumbnail', 'resize', 'cover', 'convert'].map((o) => h('option', { value: o }, o)),
  );
  const width = h('input', { id: 'job-width', type: 'number', min: 1, value: 400 });
  const height = h('input', { id: 'job-height', type: 'number', min: 1 });
  const format = h(
    'select',
    { id: 'job-format' },
    ['jpeg', 'png', 'webp', 'avif', 'gif'].map((o) => h('option', { value: o }, o)),
  );
  const quality = h('input', { id: 'job-quality', type: 'number', min: 1, max: 100 });
  const submit = h('button', { type: 'submit' }, 'Run job');
  const form = h(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { operation: operation.value, output_format: format.value };
        const s = source.value.trim();
        if (/^img_/.test(s)) body.image_id = s;
        else body.url = s;
        if (width.value) body.width = Number(width.value);
        if (height.value) body.height = Number(height.value);
        if (quality.value) body.quality = Number(quality.value);
        submit.disabled = true;
        out.replaceChildren('Submitting…');
        try {
          const accepted = await api('/v1/jobs', { method: 'POST', json: body });
          await followJob(accepted.job_id, out);
        } catch (err) {
          out.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(err)));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h(
      'div',
      { class: 'row' },
      field('job-source', 'Image id or URL', source),
      field('job-operation', 'Operation', operation),
      field('job-width', 'Width', width),
      field('job-height', 'Height', height),
      field('job-format', 'Format', format),
      field('job-quality', 'Quality', quality),
    ),
    submit,
  );
  return h(
    'div',
    {},
    h('h1', {}, 'Jobs'),
    h('p', { class: 'hint' }, 'One transformation, its output shown below.'),
    form,
    out,
  );
}

async function followJob(id, out) {
  for (let i = 0; i < 600; i++) {
    const job = await api(`/v1/jobs/${id}`);
    out.replaceChildren(h('p', {}, `Job ${id}: `, badge(job.status)));
    if (job.status === 'failed') {
      out.append(h('p', { class: 'error', role: 'alert' }, `${job.error?.code}: ${job.error?.message}`));
      return;
    }
    if (job.status === 'completed') {
      const res = await api(`/v1/jobs/${id}/download`, { raw: true });
      const url = URL.createObjectURL(await res.blob());
      const o = job.output;
      out.append(
        h('p', {}, `${o.width} × ${o.height} ${o.format}, ${bytes(o.byte_size)}`),
        h('img', { src: url, alt: `Output of job ${id}` }),
      );
      announce('Job completed');
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---------------------------------------------------------------- queue

async function queuePage() {
  const [stats, failed] = await Promise.all([
    api('/v1/tasks/stats'),
    api('/v1/tasks?status=failed&limit=50'),
  ]);
  every(5000, async () => {
    if (document.activeElement?.closest?.('button')) return;
    const fresh = await api('/v1/tasks/stats').catch(() => undefined);
    if (fresh && JSON.stringify(fresh) !== JSON.stringify(stats)) void route();
  });
  const counts = stats.data.length
    ? h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('caption', {}, 'Tasks by kind and status'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Kind', 'Status', 'Count'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            stats.data.map((s) =>
              h('tr', {}, h('td', {}, s.kind), h('td', {}, badge(s.status)), h('td', {}, s.count)),
            ),
          ),
        ),
      )
    : h('p', {}, 'Nothing waiting, running or failed.');
  const oldest =
    stats.oldest_ready_age_seconds === null
      ? 'No task is waiting to run.'
      : `The oldest ready task has waited ${stats.oldest_ready_age_seconds.toFixed(1)} s.`;
  const failedList = failed.data.length
    ? h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('caption', {}, 'Failed tasks'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Task', 'Kind', 'Subject', 'Error', 'Attempts', ''].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            failed.data.map((t) =>
              h(
                'tr',
                {},
                h('td', { class: 'mono' }, t.id),
                h('td', {}, t.kind),
                h(
                  'td',
                  { class: 'mono' },
                  t.subject_id?.startsWith('img_')
                    ? h('a', { href: `#/images/${t.subject_id}` }, t.subject_id)
                    : t.subject_id,
                ),
                h('td', {}, t.error ? `${t.error.code}: ${t.error.message}` : '—'),
                h('td', {}, `${t.attempts}/${t.max_attempts}`),
                h(
                  'td',
                  {},
                  h(
                    'button',
                    {
                      type: 'button',
                      'aria-label': `Retry ${t.id}`,
                      onclick: async () => {
                        await api(`/v1/tasks/${t.id}/retry`, { method: 'POST' });
                        announce('Task queued again');
                        void route();
                      },
                    },
                    'Retry',
                  ),
                ),
              ),
            ),
          ),
        ),
      )
    : h('p', {}, 'No failed tasks.');
  return h('div', {}, h('h1', {}, 'Queue'), h('p', {}, oldest), counts, h('h2', {}, 'Failed'), failedList);
}

// ---------------------------------------------------------------- webhooks

const EVENTS = ['image.completed', 'image.failed', 'job.completed', 'job.failed'];

async function webhooksPage() {
  const endpoints = await api('/v1/webhook-endpoints?limit=100');
  const notice = h('div', { 'aria-live': 'polite' });
  const showSecret = (secret) =>
    notice.replaceChildren(
      h('p', { class: 'secret' }, 'Signing secret (shown once): ', h('span', { class: 'mono' }, secret)),
    );
  const rows = endpoints.data.map((e) => {
    const act = (label, fn, cls = 'secondary') =>
      h(
        'button',
        {
          type: 'button',
          class: cls,
          'aria-label': `${label} ${e.url}`,
          onclick: async () => {
            try {
              await fn();
            } catch (err) {
              notice.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(err)));
            }
          },
        },
        label,
      );
    return h(
      'tr',
      {},
      h('td', { class: 'mono' }, e.url, e.description ? h('div', { class: 'hint' }, e.description) : ''),
      h('td', {}, e.events.length ? e.events.join(', ') : 'all'),
      h(
        'td',
        {},
        e.enabled ? 'enabled' : `disabled${e.disabled_reason ? ` (${e.disabled_reason})` : ''}`,
        e.failing_since ? h('div', { class: 'hint' }, `failing since ${when(e.failing_since)}`) : '',
      ),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'row' },
          act('Ping', async () => {
            await api(`/v1/webhook-endpoints/${e.id}/test`, { method: 'POST', json: {} });
            announce('Ping queued');
            void route();
          }),
          act('Rotate secret', async () => {
            const r = await api(`/v1/webhook-endpoints/${e.id}/rotate-secret`, { method: 'POST', json: {} });
            showSecret(r.secret);
          }),
          act(
            'Delete',
            async () => {
              if (!confirm(`Delete the endpoint ${e.url}?`)) return;
              await api(`/v1/webhook-endpoints/${e.id}`, { method: 'DELETE' });
              void route();
            },
            'danger',
          ),
        ),
      ),
    );
  });
  const url = h('input', {
    id: 'endpoint-url',
    type: 'url',
    required: true,
    placeholder: 'https://example.com/hooks',
  });
  const description = h('input', { id: 'endpoint-description', maxlength: 500 });
  const boxes = EVENTS.map((ev) => h('input', { type: 'checkbox', id: `ev-${ev}`, value: ev }));
  const form = h(
    'form',
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const events = boxes.filter((b) => b.checked).map((b) => b.value);
          const created = await api('/v1/webhook-endpoints', {
            method: 'POST',
            json: { url: url.value, description: description.value || undefined, events },
          });
          await route();
          showSecret(created.secret);
          main.querySelector('[aria-live]')?.replaceWith(notice);
        } catch (err) {
          notice.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(err)));
        }
      },
    },
    h(
      'div',
      { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'endpoint-url' }, 'Endpoint URL'), url),
      h('div', { class: 'field' }, h('label', { for: 'endpoint-description' }, 'Description'), description),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Events (none: all)'),
      boxes.map((b) => h('span', {}, b, h('label', { for: b.id, class: 'inline' }, ` ${b.value} `))),
    ),
    h('p', {}, h('button', { type: 'submit' }, 'Create endpoint')),
  );
  const table = rows.length
    ? h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('caption', {}, 'Endpoints'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['URL', 'Events', 'State', 'Actions'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h('tbody', {}, rows),
        ),
      )
    : h('p', {}, 'No endpoints yet.');
  return h(
    'div',
    {},
    h('h1', {}, 'Webhooks'),
    notice,
    table,
    h('h2', {}, 'New endpoint'),
    form,
    await deliveriesSection({}, 'Delivery log'),
  );
}

// ---------------------------------------------------------------- start

document.getElementById('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => void route());
if (sessionStorage.getItem(KEY)) start().catch((err) => renderSignIn(errorText(err)));
else renderSignIn();
