// Loads the app. Kept out of index.html so the Content-Security-Policy needs no inline script.
// The wasm-bindgen JS and the wasm carry content hashes in their names; Trunk writes them into
// the page as preload links (which also start both downloads early), and this reads them there.
const href = (selector) => {
  const link = document.querySelector(selector);
  if (!link) throw new Error(`index.html has no ${selector}: was it built by trunk?`);
  return link.href;
};
const { default: init } = await import(href('link[rel="modulepreload"]'));
await init({ module_or_path: href('link[rel="preload"][as="fetch"]') });
