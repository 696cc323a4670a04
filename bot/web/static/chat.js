// The web chat: loads the conversation, sends messages, files and button presses, shows replies live (SSE).
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("text");
  var fileInput = document.getElementById("file");
  var status = document.getElementById("status");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var lang = document.getElementById("lang");
  var shown = {};  // id -> element: an item shown again (an edit, a repeat, the history) replaces it

  function render(item) {
    var li = shown[item.id] || document.createElement("li");
    li.className = "msg " + (item.from === "me" ? "me" : "bot");
    li.textContent = "";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = item.from === "me" ? log.dataset.you : log.dataset.desk;
    li.appendChild(who);
    li.appendChild(document.createTextNode(item.text));
    (item.files || []).forEach(function (f) {  // url "": a file on the expert's chat app; absent: being sent
      var file = document.createElement(f.url ? "a" : "span");
      file.className = "file";
      file.textContent = f.url === "" ? f.label + " " + log.dataset.fileElsewhere : f.label;
      if (f.url) { file.href = f.url; file.setAttribute("download", ""); }
      li.appendChild(file);
    });
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

  function echo(text, files) {  // shown at once, renamed to the server's id when it is stored
    var local = "local-" + (pending += 1);
    render({id: local, from: "me", text: text, buttons: [], files: files});
    return local;
  }

  function notice(text) { render({id: "n-" + Date.now(), from: "bot", text: text, buttons: []}); }

  function send(path, body, local, text) {
    return fetch(path, {method: "POST", credentials: "same-origin", body: body, headers: {"X-CSRF-Token": csrf}})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) { return [r.status, data]; });
      })
      .then(function (res) {
        var data = res[1];
        if (local && res[0] === 202) {
          if (shown[data.id]) { shown[local].remove(); } else { shown[data.id] = shown[local]; }  // history was first
          delete shown[local];
          if (data.files) { render({id: data.id, from: "me", text: text, buttons: [], files: data.files}); }
        }
        if (local && res[0] !== 202) { shown[local].classList.add("failed"); }
        if (data.message) { notice(data.message); }  // why it was refused (answers come as posts, by the stream)
        if (res[0] === 429) { status.hidden = false; status.textContent = "…"; setTimeout(function () { status.hidden = true; }, 3000); }
      });
  }

  function post(field, value, shownText) {
    var body = new URLSearchParams();
    body.set(field, value);
    return send("/chat/send", body, field === "text" ? echo(shownText) : null, shownText);
  }

  function upload(file, text) {
    var body = new FormData();
    body.set("file", file);
    body.set("text", text);
    return send("/chat/upload", body, echo(text, [{label: "📎 " + file.name}]), text);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    var file = fileInput.files[0];
    if (!text && !file) { return; }
    input.value = "";
    if (file) {
      fileInput.value = "";
      input.required = true;
      upload(file, text);
    } else {
      post("text", text, text);
    }
    input.focus();
  });
  fileInput.addEventListener("change", function () {  // a question is optional with a file
    var file = fileInput.files[0];
    if (file && file.size > Number(fileInput.dataset.max)) { notice(fileInput.dataset.tooBig); fileInput.value = ""; file = null; }
    input.required = !file;
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
  events.onmessage = function (event) {
    var item = JSON.parse(event.data);
    if (item.kind === "reload") { load(); } else { render(item); }  // reload: live events may have been missed
  };
  load();
})();
