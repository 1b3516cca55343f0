// The notes page: lists, adds and deletes rows of /api/notes (the data
// plugin). Plain DOM, no build step. Text is always inserted with
// textContent, never as HTML.
"use strict";

const API = "/api/notes";
const list = document.getElementById("note-list");
const form = document.getElementById("note-form");
const statusLine = document.getElementById("note-status");

function say(text, isError) {
  statusLine.textContent = text;
  statusLine.className = isError ? "error" : "";
}

// fetch() plus the data API's JSON errors ({"error": ..., "status": N}).
// An answer without a body (204, or 201 for a POST, which like PostgREST
// returns the row only when asked with Prefer: return=representation) is
// null.
async function call(method, url, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(url, opts);
  const text = resp.status === 204 ? "" : await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!resp.ok) {
    throw new Error((data && data.error) || resp.status + " " + resp.statusText);
  }
  return data;
}

function render(notes) {
  list.replaceChildren();
  for (const note of notes) {
    const li = document.createElement("li");
    li.dataset.id = String(note.id);
    const h = document.createElement("h3");
    h.textContent = note.title;
    li.append(h);
    if (note.body) {
      const p = document.createElement("p");
      p.textContent = note.body;
      li.append(p);
    }
    const when = document.createElement("small");
    when.textContent = note.created_at;
    const del = document.createElement("button");
    del.type = "button";
    del.className = "delete";
    del.textContent = "Delete";
    del.addEventListener("click", () => remove(note.id));
    li.append(when, del);
    list.append(li);
  }
}

async function load() {
  try {
    const notes = await call("GET", API + "?order=id.desc&limit=200");
    render(notes);
    say(notes.length === 0 ? "No notes yet." : notes.length + " note(s).", false);
  } catch (e) {
    say("Could not load notes: " + e.message, true);
  }
}

async function remove(id) {
  try {
    await call("DELETE", API + "/" + encodeURIComponent(id));
    await load();
  } catch (e) {
    say("Could not delete: " + e.message, true);
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const title = form.elements.title.value.trim();
  const body = form.elements.body.value;
  if (!title) {
    say("A note needs a title.", true);
    return;
  }
  try {
    await call("POST", API, { title, body: body || null });
    form.reset();
    await load();
  } catch (e) {
    say("Could not add: " + e.message, true);
  }
});

load();
