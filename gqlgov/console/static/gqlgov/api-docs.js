// Starts Swagger UI or ReDoc (whichever the page loaded) with the settings the server put in
// #docs-settings. A file, not an inline script: the Content-Security-Policy allows 'self' only.
(function () {
  const settings = JSON.parse(document.getElementById("docs-settings").textContent);
  if (window.SwaggerUIBundle) {
    window.SwaggerUIBundle({ ...settings, dom_id: "#swagger-ui", presets: [window.SwaggerUIBundle.presets.apis] });
  } else if (window.Redoc) {
    window.Redoc.init(settings.url, settings.options || {}, document.getElementById("redoc-ui"));
  }
})();
