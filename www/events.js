// The live events page: subscribes to /events/<channel> (the pubsub
// plugin) with an EventSource and lists each message as it arrives; the
// form publishes with a POST. Plain DOM, no build step. Text is always
// inserted with textContent, never as HTML.
"use strict";

const PREFIX = "/events/";
const channelForm = document.getElementById("ev-channel-form");
const channelInput = document.getElementById("ev-channel");
const publishForm = document.getElementById("ev-publish-form");
const text = document.getElementById("ev-text");
const statusLine = document.getElementById("ev-status");
const published = document.getElementById("ev-published");
const list = document.getElementById("ev-list");
let source = null;
let channel = "";

function say(el, message, isError) {
  el.textContent = message;
  el.className = isError ? "error" : "";
}

function show(id, data) {
  const li = document.createElement("li");
  li.dataset.id = id;
  const small = document.createElement("small");
  small.textContent = "#" + id;
  const span = document.createElement("span");
  span.textContent = data;
  li.append(small, span);
  list.prepend(li);
}

// An EventSource reconnects by itself after a network error or the end of
// the stream (a server reload), sending Last-Event-ID so nothing buffered
// is missed; only an error answer (a full server: 503) closes it for good.
function subscribe(name) {
  if (source) source.close();
  channel = name;
  list.replaceChildren();
  source = new EventSource(PREFIX + encodeURIComponent(name));
  say(statusLine, "Connecting to " + name + "\u2026");
  source.onopen = () => say(statusLine, "Subscribed to " + name + ".");
  source.onmessage = (e) => show(e.lastEventId, e.data);
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      say(statusLine, "The server refused the subscription; try again later.", true);
    } else {
      say(statusLine, "Connection lost; reconnecting\u2026", true);
    }
  };
  history.replaceState(null, "", "#" + encodeURIComponent(name));
}

channelForm.addEventListener("submit", (e) => {
  e.preventDefault();
  subscribe(channelInput.value.trim());
});

publishForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!channel) return;
  try {
    const resp = await fetch(PREFIX + encodeURIComponent(channel), {
      method: "POST",
      headers: { "Content-Type": "text/plain; charset=utf-8" },
      body: text.value,
    });
    const data = await resp.json().catch(() => null);
    if (!resp.ok) throw new Error((data && data.error) || resp.status + " " + resp.statusText);
    say(published, "Published #" + data.id + " to " + data.subscribers + " subscriber(s).");
    text.value = "";
  } catch (err) {
    say(published, "Not published: " + err.message, true);
  }
});

const fromHash = decodeURIComponent(location.hash.slice(1));
if (fromHash) channelInput.value = fromHash;
subscribe(channelInput.value.trim());
