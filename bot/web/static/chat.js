// The web chat: loads the conversation, sends messages and button presses, shows replies live (SSE).
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("text");
  var status = document.getElementById("status");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var lang = document.getElementById("lang");
  var shown = {};

  function render(item) {
    var li = shown[item.id] || document.createElement("li");
    li.className = "msg " + (item.from === "me" ? "me" : "bot");
    li.textContent = "";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = item.from === "me" ? log.dataset.you : log.dataset.desk;
    li.appendChild(who);
    li.appendChild(document.createTextNode(item.text));
    if (item.buttons && item.buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      item.buttons.forEach(function (b) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = b.label;
        button.addEventListener("click", function () { post("action", b.action, b.label); });
        row.appendChild(button);
      });
      li.appendChild(row);
    }
    if (!shown[item.id]) { shown[item.id] = li; log.appendChild(li); li.scrollIntoView({block: "nearest"}); }
  }

  function load() {
    return fetch("/chat/history", {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (items) { items.forEach(render); });
  }

  var pending = 0;

  function post(field, value, echo) {
    var local = null;
    if (field === "text") {  // shown at once, renamed to the server's id when it is stored
      local = "local-" + (pending += 1);
      render({id: local, from: "me", text: echo, buttons: []});
    }
    var body = new URLSearchParams();
    body.set(field, value);
    return fetch("/chat/send", {method: "POST", credentials: "same-origin", body: body,
                                headers: {"X-CSRF-Token": csrf}})
      .then(function (r) { return r.json().then(function (data) { return [r.status, data]; }); })
      .then(function (res) {
        if (local && res[0] === 202) { shown[res[1].id] = shown[local]; delete shown[local]; }
        if (local && res[0] !== 202) { shown[local].classList.add("failed"); }
        if (res[0] === 202 && res[1].notice) { render({id: "n-" + Date.now(), from: "bot", text: res[1].notice, buttons: []}); }
        if (res[0] === 429) { status.hidden = false; status.textContent = "…"; setTimeout(function () { status.hidden = true; }, 3000); }
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    post("text", text, text);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  lang.addEventListener("change", function () { lang.form.submit(); });

  document.getElementById("get-code").addEventListener("click", function () {
    fetch("/chat/code", {method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": csrf}})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var out = document.getElementById("code-out");
        out.textContent = data.code ? out.dataset.label + " " + data.code : data.error;
      });
  });

  var events = new EventSource("/chat/events");
  events.onopen = function () { status.hidden = true; load(); };
  events.onerror = function () { status.hidden = false; };
  events.onmessage = function (event) { render(JSON.parse(event.data)); };
  load();
})();
