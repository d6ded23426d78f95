/* The catalog site's shared script: menu, copy buttons, this server's address in commands,
   and the home page's search and filters. No framework, no network but this site. */
(function () {
  "use strict";

  function copyText(text, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  window.catalogSite = { copyText: copyText };

  function setupMenu() {
    var button = document.querySelector(".menu-button");
    var nav = document.getElementById("site-nav");
    if (!button || !nav) return;
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function setupCopyButtons() {
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy-target"));
        if (target) copyText(target.textContent, button);
      });
    });
  }

  // Commands name the server that serves the page; a copy of the site on another web
  // server shows its own address, which is where the API and Helm repository live too.
  function fillServerUrl() {
    if (!/^https?:$/.test(location.protocol)) return;
    document.querySelectorAll(".server-url").forEach(function (el) {
      el.textContent = location.origin;
    });
    // oci:// references name the host alone; over plain HTTP helm needs --plain-http.
    document.querySelectorAll(".server-host").forEach(function (el) {
      el.textContent = location.host;
    });
    if (location.protocol === "http:") {
      document.querySelectorAll(".plain-http").forEach(function (el) {
        el.textContent = " --plain-http";
      });
    }
  }

  function setupFinder() {
    var form = document.getElementById("template-filters");
    var cards = Array.prototype.slice.call(document.querySelectorAll("#cards .card"));
    if (!form || !cards.length) return;
    var search = document.getElementById("search");
    var category = document.getElementById("category");
    var kind = document.getElementById("kind");
    var count = document.getElementById("result-count");
    var none = document.getElementById("no-results");
    var texts = {};
    cards.forEach(function (card) {
      texts[card.getAttribute("data-key")] = card.textContent.toLowerCase();
    });

    // The server's order for a query (catalog_server/search.py): a card whose name is the
    // query first, then names starting with it, then the rest in their own (name) order.
    var list = cards[0].parentNode;
    function nameKey(text) {
      return (text || "").toLowerCase().split(/[^0-9a-z\u00c0-\uffff]+/).filter(Boolean).join(" ");
    }
    var names = cards.map(function (card) {
      var title = card.querySelector(".card-title");
      return nameKey(title ? title.textContent : "");
    });
    function rank(query) {
      var key = nameKey(query);
      var order = cards.map(function (card, i) {
        var tier = !key ? 2 : names[i] === key ? 0 : names[i].indexOf(key) === 0 ? 1 : 2;
        return [tier, i];
      });
      order.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
      order.forEach(function (pair) { list.appendChild(cards[pair[1]]); });
    }

    function apply(updateUrl) {
      rank(search.value);
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      var cat = category.value;
      var k = kind.value;
      var shown = 0;
      cards.forEach(function (card) {
        var text = texts[card.getAttribute("data-key")] || "";
        var cats = (card.getAttribute("data-categories") || "").split("\n");
        var ok = (!k || card.getAttribute("data-kind") === k) &&
          (!cat || cats.indexOf(cat) !== -1) &&
          words.every(function (w) { return text.indexOf(w) !== -1; });
        card.hidden = !ok;
        if (ok) shown += 1;
      });
      count.textContent = shown + (shown === 1 ? " template" : " templates");
      none.hidden = shown !== 0;
      if (updateUrl && window.history && history.replaceState) {
        var params = new URLSearchParams();
        if (search.value) params.set("q", search.value);
        if (cat) params.set("category", cat);
        if (k) params.set("kind", k);
        var query = params.toString();
        history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
      }
    }

    var params = new URLSearchParams(location.search);
    search.value = params.get("q") || "";
    [[category, "category"], [kind, "kind"]].forEach(function (pair) {
      var wanted = params.get(pair[1]);
      if (wanted && Array.prototype.some.call(pair[0].options, function (o) { return o.value === wanted; })) {
        pair[0].value = wanted;
      }
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); apply(true); });
    search.addEventListener("input", function () { apply(true); });
    category.addEventListener("change", function () { apply(true); });
    kind.addEventListener("change", function () { apply(true); });
    apply(false);

    // The search index adds what a card does not show (ids, keywords) to what a search
    // matches. Opened from disk (file://) it cannot be fetched; the cards' text still is.
    fetch(form.getAttribute("data-index") || "templates.json")
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.templates) return;
        data.templates.forEach(function (t) {
          if (texts[t.key] !== undefined) texts[t.key] += " " + String(t.text || "").toLowerCase() + " " + t.id;
        });
        apply(false);
      })
      .catch(function () { /* keep the cards' own text */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupMenu();
    setupCopyButtons();
    fillServerUrl();
    setupFinder();
  });
})();
