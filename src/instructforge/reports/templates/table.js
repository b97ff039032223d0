// Browsable, filterable record table of the instructforge report (plain JS, no library).
// Data: the JSON script block with id "table-data": {"columns": [...], "rows": [[...]]}.
// Cells are written with textContent only, so generated text can never inject markup.
(function () {
  "use strict";
  var src = document.getElementById("table-data");
  var root = document.getElementById("records");
  if (!src || !root) { return; }
  var data = JSON.parse(src.textContent);
  var cols = data.columns, rows = data.rows;
  var iStatus = cols.indexOf("status"), iReason = cols.indexOf("reason");
  var state = { q: "", status: "", reason: "", sort: -1, asc: true, page: 0, size: 50 };
  var view = rows;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function cell(v) {
    if (v === null || v === undefined) { return ""; }
    if (typeof v === "boolean") { return v ? "yes" : "no"; }
    return String(v);
  }
  function options(sel, values, label) {
    sel.appendChild(el("option", { value: "" }, label));
    values.forEach(function (v) { sel.appendChild(el("option", { value: v }, v)); });
  }
  function distinct(i) {
    var seen = {};
    rows.forEach(function (r) { if (r[i] !== "" && r[i] !== null) { seen[r[i]] = (seen[r[i]] || 0) + 1; } });
    return Object.keys(seen).sort();
  }

  var controls = el("div", { "class": "controls" });
  var search = el("input", { type: "search", id: "records-search", placeholder: "search any column" });
  var status = el("select", { id: "records-status" });
  var reason = el("select", { id: "records-reason" });
  options(status, distinct(iStatus), "any status");
  options(reason, distinct(iReason), "any reason");
  var prev = el("button", { type: "button", id: "records-prev" }, "\u2190 prev");
  var next = el("button", { type: "button", id: "records-next" }, "next \u2192");
  var info = el("span", { id: "records-info", "class": "info" });
  [search, status, reason, prev, next, info].forEach(function (c) { controls.appendChild(c); });
  var table = el("table", { "class": "records" });
  var thead = el("thead"), tbody = el("tbody", { id: "records-body" });
  var hr = el("tr");
  cols.forEach(function (c, i) {
    var th = el("th", { title: "sort by " + c }, c);
    th.addEventListener("click", function () {
      state.asc = state.sort === i ? !state.asc : true;
      state.sort = i; state.page = 0; apply();
    });
    hr.appendChild(th);
  });
  thead.appendChild(hr);
  table.appendChild(thead);
  table.appendChild(tbody);
  root.appendChild(controls);
  var wrap = el("div", { "class": "table-wrap" });
  wrap.appendChild(table);
  root.appendChild(wrap);

  function compare(a, b) {
    var x = a[state.sort], y = b[state.sort];
    if (x === y) { return 0; }
    if (x === null || x === "") { return 1; }
    if (y === null || y === "") { return -1; }
    var r = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
    return state.asc ? r : -r;
  }
  function apply() {
    var q = state.q.toLowerCase();
    view = rows.filter(function (r) {
      if (state.status && r[iStatus] !== state.status) { return false; }
      if (state.reason && r[iReason] !== state.reason) { return false; }
      if (!q) { return true; }
      for (var i = 0; i < r.length; i++) {
        if (cell(r[i]).toLowerCase().indexOf(q) !== -1) { return true; }
      }
      return false;
    });
    if (state.sort >= 0) { view = view.slice().sort(compare); }
    render();
  }
  function render() {
    var pages = Math.max(1, Math.ceil(view.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * state.size, end = Math.min(view.length, start + state.size);
    tbody.textContent = "";
    for (var k = start; k < end; k++) {
      var tr = el("tr", { "class": String(view[k][iStatus]).indexOf("accepted") === 0 ? "ok" : "bad" });
      view[k].forEach(function (v) { tr.appendChild(el("td", {}, cell(v))); });
      tbody.appendChild(tr);
    }
    info.textContent = (view.length ? (start + 1) + "\u2013" + end : "0") + " of " + view.length +
      " matching (" + rows.length + " rows in this sample)";
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }
  search.addEventListener("input", function () { state.q = search.value; state.page = 0; apply(); });
  status.addEventListener("change", function () { state.status = status.value; state.page = 0; apply(); });
  reason.addEventListener("change", function () { state.reason = reason.value; state.page = 0; apply(); });
  prev.addEventListener("click", function () { state.page -= 1; render(); });
  next.addEventListener("click", function () { state.page += 1; render(); });
  apply();
})();
