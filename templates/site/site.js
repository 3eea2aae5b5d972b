// Language switch and field/packet search for the QCVN 120:2019/BTTTT documentation site.
// No network: the index is window.QCVN_SEARCH_INDEX (assets/search-index.js). Results are built
// with textContent only, so indexed text can never become markup.
(function () {
  "use strict";
  var KEY = "qcvngen-site-lang";
  var root = document.documentElement.getAttribute("data-root") || "";

  // --- language switch ---------------------------------------------------------------------
  var buttons = document.querySelectorAll("[data-set-lang]");

  var searchBox = document.getElementById("search-input");

  function showLang(lang) {
    document.documentElement.setAttribute("data-lang", lang);
    // The page's language for assistive technology and hyphenation: English only in the English mode.
    document.documentElement.setAttribute("lang", lang === "en" ? "en" : "vi");
    if (searchBox) {
      var hint = searchBox.getAttribute("data-placeholder-" + lang);
      searchBox.setAttribute("placeholder", hint || searchBox.getAttribute("data-placeholder-vi") + " / " + searchBox.getAttribute("data-placeholder-en"));
    }
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", String(buttons[i].getAttribute("data-set-lang") === lang));
    }
  }

  for (var b = 0; b < buttons.length; b++) {
    buttons[b].addEventListener("click", function (event) {
      var lang = event.currentTarget.getAttribute("data-set-lang");
      showLang(lang);
      try {
        if (lang === "both") {
          window.localStorage.removeItem(KEY);
        } else {
          window.localStorage.setItem(KEY, lang);
        }
      } catch (e) {
        // Not remembered where storage is unavailable.
      }
    });
  }
  showLang(document.documentElement.getAttribute("data-lang") || "both");

  // --- search ------------------------------------------------------------------------------
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var index = window.QCVN_SEARCH_INDEX || [];
  var LIMIT = 30;

  // Case- and accent-insensitive: "ngay hen tra" finds "Ngày hẹn trả".
  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
  }

  // Words of a text, wire names split at their capitals ("NgayHenTra" -> "ngay hen tra").
  function words(text) {
    return " " + fold(String(text).replace(/([a-z0-9])([A-Z])/g, "$1 $2")).replace(/[^a-z0-9]+/g, " ") + " ";
  }

  var prepared = index.map(function (entry) {
    return {
      entry: entry,
      name: fold(entry.name),
      words: words([entry.name, entry.vi, entry.en, entry.packet, entry.section_vi, entry.section_en, entry.ref_vi, entry.ref_en, entry.number].join(" "))
    };
  });

  // Whole name first, then names starting with or containing the query, then entries in which
  // every query word starts a word.
  function score(item, query, terms) {
    if (item.name === query) return 0;
    if (item.name.indexOf(query) === 0) return 1;
    if (item.name.indexOf(query) >= 0) return 2;
    if (!terms.length) return -1;
    for (var i = 0; i < terms.length; i++) {
      if (item.words.indexOf(" " + terms[i]) < 0) return -1;
    }
    return 3;
  }

  function search(raw) {
    var query = fold(raw).trim();
    if (!query) return [];
    var terms = words(raw).trim().split(" ").filter(Boolean);
    var hits = [];
    for (var i = 0; i < prepared.length; i++) {
      var s = score(prepared[i], query, terms);
      // At equal score a packet comes before a field.
      if (s >= 0) hits.push({ score: 2 * s + (prepared[i].entry.kind === "packet" ? 0 : 1), order: i, entry: prepared[i].entry });
    }
    hits.sort(function (a, b) { return a.score - b.score || a.order - b.order; });
    return hits.slice(0, LIMIT).map(function (hit) { return hit.entry; });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // A Vietnamese/English pair as the pages write it: each half marked with its language.
  function pair(className, vi, en) {
    var box = element("span", className, "");
    if (vi === en) {
      box.textContent = vi;
      return box;
    }
    if (vi) {
      var v = element("span", "l-vi", vi);
      v.lang = "vi";
      box.appendChild(v);
    }
    if (vi && en) box.appendChild(element("span", "l-sep", " / "));
    if (en) {
      var e = element("span", "l-en", en);
      e.lang = "en";
      box.appendChild(e);
    }
    return box;
  }

  function where(entry) {
    var box = element("span", "r-where", "");
    if (entry.kind === "packet") {
      box.appendChild(pair("", "gói tin", "packet"));
      return box;
    }
    var parts = [];
    if (entry.packet) parts.push(pair("", entry.packet, entry.packet));
    // The row reference before the section heading: headings are long and the line is cut at its end.
    if (entry.ref_vi || entry.ref_en) parts.push(pair("", entry.ref_vi, entry.ref_en));
    if (entry.section_vi || entry.section_en) parts.push(pair("", entry.section_vi, entry.section_en));
    parts.forEach(function (part, i) {
      if (i) box.appendChild(document.createTextNode(" · "));
      box.appendChild(part);
    });
    return box;
  }

  function show(results, raw) {
    list.textContent = "";
    if (!raw.trim()) {
      list.hidden = true;
      return;
    }
    if (!results.length) {
      var none = element("li", "r-none", "");
      none.appendChild(pair("", "Không tìm thấy", "No match"));
      list.appendChild(none);
    }
    results.forEach(function (entry) {
      var li = element("li", "", "");
      var a = element("a", "", "");
      a.href = root + entry.page + (entry.anchor ? "#" + entry.anchor : "");
      a.setAttribute("data-kind", entry.kind);
      a.setAttribute("data-packet", entry.packet);
      a.appendChild(element("code", "r-name", entry.kind === "packet" ? entry.number + " " + entry.name : entry.name));
      a.appendChild(pair("r-desc", entry.vi, entry.en));
      a.appendChild(where(entry));
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = false;
  }

  if (input && list) {
    input.addEventListener("input", function () { show(search(input.value), input.value); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        var first = list.querySelector("a");
        if (first) window.location.href = first.href;
      } else if (event.key === "Escape") {
        input.value = "";
        show([], "");
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "/" && document.activeElement !== input) {
        event.preventDefault();
        input.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (!event.target.closest || !event.target.closest(".search")) list.hidden = true;
    });
    input.addEventListener("focus", function () { if (input.value.trim()) show(search(input.value), input.value); });
  }
})();
