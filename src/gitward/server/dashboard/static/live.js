/*
 * gitward dashboard: live updates and small comforts. Loaded by every page (templates/base.html).
 *
 * Pages are complete without this file. With it:
 *  - the page follows the server-sent events of /api/v1/events (URL in <body data-events>); when an
 *    application it shows changes, it re-fetches itself and swaps the elements marked data-live
 *    (keeping open/closed diffs and never touching a part that has the keyboard focus);
 *  - relative times ("5 min ago") keep counting;
 *  - filter selects apply at once; forms with data-confirm ask first (rollback).
 */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.add("js");

  // ------------------------------------------------------------------ relative times

  function relative(iso) {
    var then = Date.parse(iso);
    if (isNaN(then)) return null;
    var seconds = Math.floor((Date.now() - then) / 1000);
    if (seconds < -60) return "in the future";
    if (seconds < 5) return "just now";
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function tick() {
    var times = document.querySelectorAll("time[data-relative]");
    for (var i = 0; i < times.length; i++) {
      var text = relative(times[i].getAttribute("datetime"));
      if (text !== null && times[i].textContent !== text) times[i].textContent = text;
    }
  }

  // ------------------------------------------------------------------ forms

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.tagName === "SELECT" && target.form && target.form.classList.contains("filters")) {
      target.form.submit();
    }
  });

  // ------------------------------------------------------------------ live regions

  var body = document.body;
  var indicator = document.getElementById("live-indicator");
  var refreshing = false;
  var again = false;
  var timer = null;
  var pendingWhileHidden = false;

  function showLive(state) {
    if (!indicator) return;
    indicator.hidden = false;
    indicator.classList.toggle("is-live", state === "live");
    indicator.textContent = state === "live" ? "Live" : state === "reconnecting" ? "Reconnecting…" : "Offline";
    indicator.title = state === "live" ? "Updates arrive as they happen" : "Not receiving updates";
  }

  function keepDetailsState(current, fresh) {
    var open = current.querySelectorAll("details[id]");
    for (var i = 0; i < open.length; i++) {
      var twin = fresh.querySelector("#" + CSS.escape(open[i].id));
      if (twin) twin.open = open[i].open;
    }
  }

  function swap(doc) {
    var regions = document.querySelectorAll("[data-live][id]");
    var active = document.activeElement;
    for (var i = 0; i < regions.length; i++) {
      var current = regions[i];
      var fresh = doc.getElementById(current.id);
      if (!fresh) continue;
      if (active && active !== document.body && current.contains(active)) continue;
      keepDetailsState(current, fresh);
      current.replaceWith(document.adoptNode(fresh));
    }
    // regions that appear only now (e.g. the first diff) come with the main element's children
    var main = document.getElementById("main");
    var freshMain = doc.getElementById("main");
    if (main && freshMain && regions.length === 0) main.replaceWith(document.adoptNode(freshMain));
    tick();
  }

  function refresh() {
    if (document.hidden) {
      pendingWhileHidden = true;
      return;
    }
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected && /\/login/.test(response.url)) {
          showLive("offline");
          return null;
        }
        return response.text().then(function (text) {
          var doc = new DOMParser().parseFromString(text, "text/html");
          if (response.ok) {
            swap(doc);
          } else {
            // the application was deleted, or the server is not ready: show what the server says
            var main = document.getElementById("main");
            var freshMain = doc.getElementById("main");
            if (main && freshMain) main.replaceWith(document.adoptNode(freshMain));
          }
          body.setAttribute("data-refreshed", String(Date.now()));
        });
      })
      .catch(function () {
        /* the next event tries again */
      })
      .then(function () {
        refreshing = false;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  function schedule() {
    if (timer !== null) return;
    timer = window.setTimeout(function () {
      timer = null;
      refresh();
    }, 250);
  }

  // The state of an application as the page renders it (templates/_macros.html, state()).
  function stateOf(app) {
    return [
      app.syncStatus,
      app.healthStatus,
      app.revision,
      app.lastSyncedAt || "",
      app.operationPhase || "",
      app.suspend ? "true" : "false",
    ].join("|");
  }

  function wanted(app) {
    var sync = body.getAttribute("data-filter-sync");
    var health = body.getAttribute("data-filter-health");
    return (!sync || app.syncStatus === sync) && (!health || app.healthStatus === health);
  }

  // After (re)connecting: is the page already showing what the snapshot says?
  function stale(items) {
    var shown = {};
    var rows = document.querySelectorAll("[data-app][data-state]");
    for (var i = 0; i < rows.length; i++) shown[rows[i].getAttribute("data-app")] = rows[i].getAttribute("data-state");
    var seen = 0;
    for (var j = 0; j < items.length; j++) {
      var key = items[j].namespace + "/" + items[j].name;
      if (key in shown) {
        seen++;
        if (shown[key] !== stateOf(items[j])) return true;
      } else if (wanted(items[j])) {
        return true; // a new application in the list
      }
    }
    return seen !== rows.length; // one was deleted
  }

  function follow(url) {
    if (!window.EventSource || !window.fetch || !window.DOMParser) return;
    var source = new EventSource(url, { withCredentials: true });
    source.addEventListener("open", function () {
      showLive("live");
    });
    source.addEventListener("error", function () {
      showLive(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting");
    });
    source.addEventListener("snapshot", function (event) {
      try {
        if (stale(JSON.parse(event.data).items || [])) schedule();
      } catch (e) {
        schedule();
      }
    });
    source.addEventListener("application", schedule);
    source.addEventListener("resync", schedule);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && pendingWhileHidden) {
        pendingWhileHidden = false;
        schedule();
      }
    });
  }

  window.setInterval(tick, 15000);
  var events = body.getAttribute("data-events");
  if (events) follow(events);
})();
