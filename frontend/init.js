// Loads the app. Kept out of index.html so the Content-Security-Policy needs no inline script.
import init from "/frontend.js";

init({ module_or_path: "/frontend_bg.wasm" });
