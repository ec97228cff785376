/* The console's actions: every one is a call to the /v1 API with the session's CSRF token.
   Forms marked class="api" send their fields as JSON to the URL of the button that submitted them;
   on success the page reloads to show the new state, on refusal the API's message is shown. */
"use strict";

(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfHeader = meta ? meta.dataset.header : "X-CSRF-Token";
  const csrfToken = meta ? meta.content : "";

  function callApi(method, url, body) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    headers[csrfHeader] = csrfToken;
    return fetch(url, { method: method, headers: headers, body: JSON.stringify(body), credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (text) {
          let data = null;
          try { data = text ? JSON.parse(text) : null; } catch (error) { data = null; }
          return { ok: response.ok, status: response.status, data: data, text: text };
        });
      });
  }

  function errorMessage(answer) {
    const error = answer.data && answer.data.error;
    if (error && typeof error === "object") { return error.code + ": " + error.message; }
    if (typeof error === "string") { return error; }
    return answer.status + " " + answer.text.slice(0, 200);
  }

  function formBody(form, button) {
    /* The fields the button names (data-fields="a b"), or else every field but those only one button needs. */
    const wanted = button.dataset.fields ? button.dataset.fields.split(" ") : null;
    const body = {};
    new FormData(form).forEach(function (value, name) {
      const ownedByOther = form.querySelector('button[data-fields~="' + name + '"]');
      if (wanted ? wanted.indexOf(name) >= 0 : !ownedByOther) { body[name] = value; }
    });
    return body;
  }

  function showResult(form, text, failed) {
    const place = form.querySelector(".result");
    if (!place) { return; }
    place.textContent = text;
    place.classList.toggle("error", failed);
    place.setAttribute("role", failed ? "alert" : "status");
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.classList.contains("api")) { return; }
    event.preventDefault();
    const button = event.submitter || form.querySelector("button[data-url]");
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    showResult(form, "…", false);
    callApi("POST", button.dataset.url, formBody(form, button)).then(function (answer) {
      if (answer.ok) { showResult(form, "✓", false); window.location.reload(); return; }
      buttons.forEach(function (b) { b.disabled = false; });
      showResult(form, errorMessage(answer), true);
    }, function (error) {
      buttons.forEach(function (b) { b.disabled = false; });
      showResult(form, String(error), true);
    });
  });

  function drawBars(reasons) {
    const bars = document.getElementById("try-bars");
    bars.replaceChildren();
    const largest = Math.max.apply(null, reasons.map(function (r) { return Math.abs(r.contribution); }).concat([1e-9]));
    reasons.forEach(function (reason) {
      const row = document.createElement("div");
      row.className = "bar-row";
      row.setAttribute("role", "listitem");
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = reason.text;
      const track = document.createElement("span");
      track.className = "bar-track";
      const bar = document.createElement("span");
      bar.className = "bar " + (reason.contribution >= 0 ? "up" : "down");
      bar.style.width = (100 * Math.abs(reason.contribution) / largest).toFixed(1) + "%";
      track.appendChild(bar);
      const value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = (reason.contribution >= 0 ? "+" : "") + reason.contribution.toFixed(3);
      row.append(label, track, value);
      bars.appendChild(row);
    });
  }

  const tryForm = document.getElementById("try");
  if (tryForm) {
    tryForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const algorithm = tryForm.elements.algorithm.value;
      const entity = tryForm.elements.entity.value.trim();
      showResult(tryForm, "…", false);
      const url = "/v1/score/" + encodeURIComponent(algorithm);
      callApi("POST", url, { entities: [entity], explain: true }).then(function (answer) {
        if (!answer.ok) { showResult(tryForm, errorMessage(answer), true); return; }
        const result = answer.data.results[0];
        if (result.error) { showResult(tryForm, result.error.code + ": " + result.error.message, true); return; }
        showResult(tryForm, "✓", false);
        document.getElementById("try-score").textContent = result.score.toFixed(4);
        document.getElementById("try-level").textContent = result.level;
        document.getElementById("try-warning").textContent = result.warning ? "⚠" : "—";
        document.getElementById("try-model").textContent =
          answer.data.model_name + " v" + answer.data.model_version + " (" + answer.data.alias + ")";
        drawBars(result.reasons || []);
        document.getElementById("try-result").hidden = false;
      });
    });
  }
})();
