/* The console's actions: every one is a call to the /v1 API with the session's CSRF token.
   Forms marked class="api" send their fields as JSON to the URL of the button that submitted them;
   on success the page reloads to show the new state, on refusal the API's message is shown. */
"use strict";

(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfHeader = meta ? meta.dataset.header : "X-CSRF-Token";
  const csrfToken = meta ? meta.content : "";
  const root = meta ? meta.dataset.root : "";  // the prefix the app is served under ("" at the root)

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
      row.dataset.feature = reason.feature;
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

  /* Try it: score an entity (its feature values then fill the what-if form) or the edited row. */
  const tryForm = document.getElementById("try");
  const whatIf = document.getElementById("whatif");
  const labelsNode = document.getElementById("whatif-labels");
  const words = labelsNode ? JSON.parse(labelsNode.textContent) : {};
  let lastScore = null;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) { return key in values ? values[key] : whole; });
  }

  function activeFieldset() {
    const algorithm = tryForm.elements.algorithm.value;
    return whatIf.querySelector('fieldset[data-algorithm="' + CSS.escape(algorithm) + '"]');
  }

  function clearFieldErrors() {
    whatIf.querySelectorAll(".field-error").forEach(function (place) { place.textContent = ""; });
    whatIf.querySelectorAll("input[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
  }

  function showAnswer(answer, source) {
    const result = answer.data.results[0];
    const previous = document.getElementById("try-previous");
    if (lastScore !== null) {
      const change = result.score - lastScore;
      document.getElementById("try-previous-score").textContent =
        lastScore.toFixed(4) + " → " + result.score.toFixed(4) + " (" + (change >= 0 ? "+" : "") + change.toFixed(4) + ")";
      previous.hidden = false;
    }
    lastScore = result.score;
    document.getElementById("try-score").textContent = result.score.toFixed(4);
    document.getElementById("try-level").textContent = result.level;
    document.getElementById("try-warning").textContent = result.warning ? "⚠" : "—";
    document.getElementById("try-source").textContent = source;
    document.getElementById("try-model").textContent =
      answer.data.model_name + " v" + (result.model_version || answer.data.model_version) +
      " (" + (result.alias || answer.data.alias) + ")";
    drawBars(result.reasons || []);
    document.getElementById("try-result").hidden = false;
  }

  function ruleText(failure) {
    /* The API's failed rule in the interface's words, with the value the person entered. */
    const rule = String(failure.rule);
    const bound = /^(greater|less)_than_or_equal_to\((.*)\)$/.exec(rule);
    let text = rule;
    if (rule === "not_nullable") { text = words.required; }
    else if (rule.indexOf("dtype(") === 0) { text = words.number; }
    else if (rule === "column_in_dataframe") { text = words.missing; }
    else if (rule === "column_in_schema") { text = words.unknown; }
    else if (bound) { text = fill(bound[1] === "greater" ? words.min : words.max, { bound: bound[2] }); }
    const example = (failure.examples || [])[0];
    if (example && example.value !== null && example.value !== undefined && rule !== "not_nullable") {
      text += " (" + fill(words.entered, { value: example.value }) + ")";
    }
    return text + " [" + rule + "]";
  }

  function showFailures(answer) {
    /* A 422 data_validation_failed: each failed rule next to the field it names; the first such field focused. */
    const error = answer.data && answer.data.error;
    const failures = (error && error.failures) || [];
    const fieldset = activeFieldset();
    const names = [];
    let first = null;
    failures.forEach(function (failure) {
      const field = failure.column ? fieldset.querySelector('.field[data-feature="' + CSS.escape(failure.column) + '"]') : null;
      names.push(failure.column || "(row)");
      if (!field) { return; }
      const place = field.querySelector(".field-error");
      place.textContent = (place.textContent ? place.textContent + "; " : "") + ruleText(failure);
      const input = field.querySelector("input");
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    });
    showResult(whatIf, failures.length ? fill(words.invalid, { count: failures.length, names: names.join(", ") }) : errorMessage(answer), true);
    if (first) { first.focus(); }
  }

  function editedRow(fieldset) {
    /* Field name -> number; an empty field is null (missing); anything else is sent as typed, for the API to judge. */
    const row = {};
    fieldset.querySelectorAll("input").forEach(function (input) {
      const text = input.value.trim();
      const number = Number(text);
      row[input.name] = text === "" ? null : (Number.isFinite(number) ? number : text);
    });
    return row;
  }

  if (tryForm) {
    tryForm.elements.algorithm.addEventListener("change", function () {
      whatIf.querySelectorAll("fieldset").forEach(function (fieldset) {
        const shown = fieldset === activeFieldset();
        fieldset.hidden = !shown;
        fieldset.disabled = !shown;
      });
      clearFieldErrors();
      lastScore = null;
    });

    tryForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const algorithm = tryForm.elements.algorithm.value;
      const entity = tryForm.elements.entity.value.trim();
      showResult(tryForm, "…", false);
      const url = root + "/v1/score/" + encodeURIComponent(algorithm);
      callApi("POST", url, { entities: [entity], explain: true, include_features: true }).then(function (answer) {
        if (!answer.ok) { showResult(tryForm, errorMessage(answer), true); return; }
        const result = answer.data.results[0];
        if (result.error) { showResult(tryForm, result.error.code + ": " + result.error.message, true); return; }
        showResult(tryForm, "✓", false);
        clearFieldErrors();
        const fieldset = activeFieldset();
        Object.keys(result.features || {}).forEach(function (name) {
          const input = fieldset.querySelector('.field[data-feature="' + CSS.escape(name) + '"] input');
          if (input) { input.value = result.features[name] === null ? "" : String(result.features[name]); }
        });
        showAnswer(answer, result.entity_id);
      }, function (error) { showResult(tryForm, String(error), true); });
    });

    document.getElementById("whatif-blank").addEventListener("click", function () {
      activeFieldset().querySelectorAll("input").forEach(function (input) { input.value = ""; });
      clearFieldErrors();
      showResult(whatIf, "", false);
      const first = activeFieldset().querySelector("input");
      if (first) { first.focus(); }
    });

    whatIf.addEventListener("submit", function (event) {
      event.preventDefault();
      const url = root + "/v1/score/" + encodeURIComponent(tryForm.elements.algorithm.value);
      clearFieldErrors();
      showResult(whatIf, "…", false);
      callApi("POST", url, { features: [editedRow(activeFieldset())], explain: true }).then(function (answer) {
        if (answer.ok) { showResult(whatIf, "✓", false); showAnswer(answer, words.edited); return; }
        if (answer.status === 422 && answer.data && answer.data.error && answer.data.error.code === "data_validation_failed") {
          showFailures(answer);
          return;
        }
        showResult(whatIf, errorMessage(answer), true);
      }, function (error) { showResult(whatIf, String(error), true); });
    });
  }
})();
