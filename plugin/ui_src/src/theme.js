// Follow Airflow's colour theme, live: the parent UI (same origin) marks its <html> with class "dark" or
// "light" (next-themes); its choice "light" | "dark" | "system" is kept in localStorage.theme.
(function () {
  const root = document.documentElement;
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  function parentMode() {
    try {
      if (window.parent !== window && window.parent.document) {
        const cls = window.parent.document.documentElement.classList;
        if (cls.contains("dark")) return "dark";
        if (cls.contains("light")) return "light";
      }
    } catch (e) { /* not same-origin: fall back to the stored choice */ }
    return null;
  }

  function storedMode() {
    let choice = null;
    try { choice = window.localStorage.getItem("theme"); } catch (e) { /* storage blocked */ }
    if (choice === "dark" || choice === "light") return choice;
    return systemDark.matches ? "dark" : "light";
  }

  function apply() {
    const mode = parentMode() || storedMode();
    if (root.dataset.theme !== mode) {
      root.dataset.theme = mode;
      root.style.colorScheme = mode;
      window.dispatchEvent(new CustomEvent("mlops-theme", { detail: mode }));
    }
  }

  apply();
  systemDark.addEventListener("change", apply);
  window.addEventListener("storage", (e) => { if (e.key === "theme") apply(); });
  try {
    if (window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement,
        { attributes: true, attributeFilter: ["class", "style", "data-theme"] });
    }
  } catch (e) { /* cross-origin parent */ }
})();
