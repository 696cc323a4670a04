(function () {
  var frame = document.createElement("iframe");
  frame.src = {{ (base ~ "/chat?embed=1")|tojson }};
  frame.title = "LEDS advisory help desk chat";
  frame.style.cssText = "width:100%;max-width:480px;height:600px;border:1px solid #ccc;border-radius:8px";
  var here = document.currentScript;
  here.parentNode.insertBefore(frame, here.nextSibling);
})();
