/* preflog-feedback.js: end-user feedback for one logged LLM answer, from any web page.
 *
 *   <div data-preflog-feedback data-token="pft1...." data-candidates="c0,c1" data-labels="A,B"></div>
 *   <script src="https://PREFLOG/static/preflog-feedback.js" defer></script>
 *
 * Renders, as the token allows (its kinds): thumbs up/down for one candidate (data-candidate-id, or
 * the only one of data-candidates), a pick between the candidates shown (data-candidates, in the
 * order the page shows them: that order is sent as "presented"), and a comment box that explains the
 * last vote. Calls POST /v1/feedback on the preflog service the script came from (or
 * data-endpoint) with the token; no cookie is sent. Clicking the same vote again changes nothing;
 * another vote replaces it (preflog records a retraction and the new judgment).
 *
 * data-request-id and data-project, when given, are sent too: preflog refuses a token minted for
 * another request or project (a page that mixed up its tokens stores nothing).
 *
 * Built with createElement and textContent only; no dependency, no global but PreflogFeedback.
 * Every answer is dispatched on the element as a "preflog:feedback" event (detail: action, status,
 * event_id or error), so a page can react, and styled through the preflog-fb-* classes.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var defaultEndpoint = script && script.src ? new URL(script.src).origin : "";

  function grant(token) {
    try {
      var payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (payload.length % 4) payload += "=";
      return JSON.parse(atob(payload));
    } catch (e) {
      return null;
    }
  }

  function list(value) {
    return (value || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function button(text, className, label) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    b.setAttribute("aria-pressed", "false");
    return b;
  }

  function press(group, chosen) {
    group.forEach(function (b) { b.setAttribute("aria-pressed", b === chosen ? "true" : "false"); });
  }

  function message(answer, body) {
    if (answer.status === 429) return "Thanks — please wait a moment before sending more.";
    if (body && body.message) return body.message;
    return "Feedback could not be sent (HTTP " + answer.status + ").";
  }

  function send(el, payload) {
    var state = el.__preflog;
    var body = Object.assign({ request_id: state.requestId }, payload);
    if (state.project) body.project = state.project;
    state.status.textContent = "Sending…";
    return fetch(state.endpoint + "/v1/feedback", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Authorization": "Bearer " + state.token, "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (answer) {
      return answer.json().catch(function () { return null; }).then(function (data) {
        var ok = answer.status === 200 || answer.status === 201;
        var detail = { action: payload.action, ok: ok, httpStatus: answer.status };
        if (ok) {
          detail.status = data.status;
          detail.event_id = data.event_id;
          state.status.textContent = "Thanks for your feedback.";
        } else {
          detail.error = data && data.error;
          state.status.textContent = message(answer, data);
        }
        el.dispatchEvent(new CustomEvent("preflog:feedback", { detail: detail, bubbles: true }));
        return detail;
      });
    }, function (error) {
      state.status.textContent = "Feedback could not be sent: the service is unreachable.";
      var detail = { action: payload.action, ok: false, error: String(error) };
      el.dispatchEvent(new CustomEvent("preflog:feedback", { detail: detail, bubbles: true }));
      return detail;
    });
  }

  function thumbs(el, candidate) {
    var box = document.createElement("span");
    box.className = "preflog-fb-thumbs";
    var up = button("\uD83D\uDC4D", "preflog-fb-thumb preflog-fb-up", "Good answer");
    var down = button("\uD83D\uDC4E", "preflog-fb-thumb preflog-fb-down", "Bad answer");
    [[up, "up"], [down, "down"]].forEach(function (pair) {
      pair[0].addEventListener("click", function () {
        send(el, { action: "thumbs", candidate_id: candidate, value: pair[1] }).then(function (d) {
          if (d.ok) { press([up, down], pair[0]); el.__preflog.voted(); }
        });
      });
    });
    box.appendChild(up);
    box.appendChild(down);
    return box;
  }

  function pick(el, candidates, labels) {
    var box = document.createElement("span");
    box.className = "preflog-fb-pick";
    var buttons = candidates.map(function (candidate, i) {
      var label = labels[i] || "Response " + (i + 1);
      var b = button("Prefer " + label, "preflog-fb-choice");
      b.dataset.candidateId = candidate;
      b.addEventListener("click", function () {
        send(el, { action: "pick", chosen: candidate, presented: candidates.slice() }).then(function (d) {
          if (d.ok) { press(buttons, b); el.__preflog.voted(); }
        });
      });
      box.appendChild(b);
      return b;
    });
    return box;
  }

  function comment(el) {
    var form = document.createElement("form");
    form.className = "preflog-fb-comment";
    var text = document.createElement("textarea");
    text.rows = 2;
    text.maxLength = 4000;
    text.placeholder = "Tell us more (optional)";
    text.setAttribute("aria-label", "Comment");
    text.disabled = true;
    var submit = button("Send", "preflog-fb-send");
    submit.type = "submit";
    submit.disabled = true;
    form.appendChild(text);
    form.appendChild(submit);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!text.value.trim()) return;
      send(el, { action: "comment", text: text.value });
    });
    el.__preflog.voted = function () { text.disabled = false; submit.disabled = false; };
    return form;
  }

  function mount(el) {
    if (el.__preflog) return el.__preflog;
    var token = el.dataset.token || "";
    var claims = grant(token);
    var kinds = (claims && claims.kinds) || [];
    var candidates = list(el.dataset.candidates);
    var state = {
      token: token,
      endpoint: (el.dataset.endpoint || defaultEndpoint).replace(/\/$/, ""),
      requestId: el.dataset.requestId || (claims && claims.r) || "",
      project: el.dataset.project || "",
      status: document.createElement("span"),
      voted: function () {}
    };
    el.__preflog = state;
    el.classList.add("preflog-fb");
    var thumbed = el.dataset.candidateId || (candidates.length === 1 ? candidates[0] : "");
    if (kinds.indexOf("thumbs") >= 0 && thumbed) el.appendChild(thumbs(el, thumbed));
    if (kinds.indexOf("pick") >= 0 && candidates.length >= 2) {
      el.appendChild(pick(el, candidates, list(el.dataset.labels)));
    }
    if (kinds.indexOf("comment") >= 0) el.appendChild(comment(el));
    state.status.className = "preflog-fb-status";
    state.status.setAttribute("role", "status");
    state.status.setAttribute("aria-live", "polite");
    el.appendChild(state.status);
    if (!claims) state.status.textContent = "Feedback is unavailable (no valid token).";
    el.dataset.preflogReady = "1";
    return state;
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-preflog-feedback]"), mount);
  }

  window.PreflogFeedback = {
    mount: mount,
    mountAll: mountAll,
    send: function (el, payload) { mount(el); return send(el, payload); }
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountAll);
  } else {
    mountAll();
  }
})();
