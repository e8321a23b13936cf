// partverse review page: token login, queue of submitted tasks, two flat-coloured 3D views
// (submitted labels beside the automatic revision 1), part list with hover highlight, exploded
// view, accept / reject-with-comment through the ordinary /api/v1 review endpoint (If-Match).
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/OrbitControls.js';

const API = '/api/v1';
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45',
  '#469990', '#9a6324', '#800000', '#808000', '#000075', '#ffe119', '#aaffc3', '#dcbeff'];
const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem('partverse-token'), user: null, project: null, queue: [],
  task: null, viewers: [], parts: [] };
window.reviewState = state;

async function api(path, { method = 'GET', body, headers = {}, binary = false } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}`, ...headers } };
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
  const res = await fetch(API + path, init);
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (e) { /* not JSON */ }
    const err = new Error(`${res.status}: ${detail}`); err.status = res.status; throw err;
  }
  if (res.status === 204) return null;
  return binary ? res.arrayBuffer() : res.json();
}

function say(text, isError = false) { const m = $('message'); m.textContent = text; m.className = isError ? 'error' : ''; }

// ---- login -------------------------------------------------------------------------------
async function login(token) {
  state.token = token;
  try {
    state.user = await api('/users/me');
  } catch (e) {
    $('login-error').textContent = e.status === 401 ? 'unknown or revoked token' : String(e.message);
    sessionStorage.removeItem('partverse-token');
    return;
  }
  if (state.user.role === 'annotator') { $('login-error').textContent = `${state.user.name} is an annotator; reviewing needs the reviewer or admin role`; return; }
  sessionStorage.setItem('partverse-token', token);
  $('who').textContent = `${state.user.name} (${state.user.role})`;
  $('login').hidden = true; $('logout').hidden = false; $('review').hidden = false;
  const projects = await api('/projects');
  $('project').innerHTML = projects.map((p) => `<option>${escapeHtml(p.name)}</option>`).join('');
  state.project = projects.length ? projects[0].name : null;
  await loadQueue();
}

function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]); }

// ---- queue -------------------------------------------------------------------------------
async function loadQueue() {
  if (!state.project) { $('queue').innerHTML = '<li>no project</li>'; return; }
  const list = await api(`/projects/${encodeURIComponent(state.project)}/tasks?status=submitted&limit=1000`);
  state.queue = list.items;
  $('queue-count').textContent = `(${list.total})`;
  $('queue').innerHTML = list.items.map((t) => `<li data-id="${t.id}">#${t.id} ${escapeHtml(t.uid)} <small>${escapeHtml(t.assignee || '')}</small></li>`).join('');
  for (const li of $('queue').children) li.addEventListener('click', () => openTask(Number(li.dataset.id)));
  markCurrent();
}

function markCurrent() {
  for (const li of $('queue').children) li.classList.toggle('current', state.task && Number(li.dataset.id) === state.task.id);
}

async function nextTask() {
  await loadQueue();
  if (!state.queue.length) { say('the queue is empty'); closeTask(); return; }
  const idx = state.task ? state.queue.findIndex((t) => t.id === state.task.id) : -1;
  await openTask(state.queue[(idx + 1) % state.queue.length].id);
}

// ---- viewer ------------------------------------------------------------------------------
class Viewer {
  constructor(canvas, camera) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(1);
    this.renderer.setSize(canvas.width, canvas.height, false);
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color('#ffffff');
    this.camera = camera;
    this.controls = new OrbitControls(camera, canvas);
    this.parts = [];
  }
  setParts(positions, labels, colourOf) {
    for (const p of this.parts) { this.scene.remove(p.mesh); p.mesh.geometry.dispose(); p.mesh.material.dispose(); }
    const count = new Map();
    for (let f = 0; f < labels.length; f++) count.set(labels[f], (count.get(labels[f]) || 0) + 1);
    const ids = [...count.keys()].sort((a, b) => a - b);
    const arrays = new Map(ids.map((id) => [id, { data: new Float32Array(count.get(id) * 9), n: 0 }]));
    for (let f = 0; f < labels.length; f++) {
      const a = arrays.get(labels[f]);
      a.data.set(positions.subarray(f * 9, f * 9 + 9), a.n * 9); a.n++;
    }
    this.parts = ids.map((id, rank) => {
      const geom = new THREE.BufferGeometry();
      geom.setAttribute('position', new THREE.BufferAttribute(arrays.get(id).data, 3));
      geom.computeBoundingBox();
      const colour = new THREE.Color(colourOf(id, rank));
      const mesh = new THREE.Mesh(geom, new THREE.MeshBasicMaterial({ color: colour, side: THREE.DoubleSide }));
      this.scene.add(mesh);
      const centre = geom.boundingBox.getCenter(new THREE.Vector3());
      return { id, mesh, colour, centre, faces: count.get(id) };
    });
    return this.parts;
  }
  explode(t, objectCentre, size) {
    for (const p of this.parts) p.mesh.position.copy(p.centre).sub(objectCentre).multiplyScalar(t * 0.5);
    void size;
  }
  highlight(id) {
    for (const p of this.parts) {
      const c = p.colour.clone();
      if (id !== null && p.id !== id) c.lerp(new THREE.Color('#ffffff'), 0.8);
      p.mesh.material.color.copy(c);
    }
  }
  render() { this.renderer.render(this.scene, this.camera); }
}

function setupViewers() {
  const camera = new THREE.PerspectiveCamera(40, 440 / 360, 0.01, 1000);
  state.camera = camera;
  state.viewers = [new Viewer($('view-submitted'), camera), new Viewer($('view-initial'), camera)];
  for (const v of state.viewers) v.controls.addEventListener('change', renderAll);
}

function renderAll() { for (const v of state.viewers) v.render(); }

function frame(positions) {
  const box = new THREE.Box3().setFromBufferAttribute(new THREE.BufferAttribute(positions, 3));
  const centre = box.getCenter(new THREE.Vector3());
  const size = box.getSize(new THREE.Vector3()).length();
  state.centre = centre; state.size = size;
  state.camera.position.copy(centre).add(new THREE.Vector3(0.9, 0.6, 1.2).normalize().multiplyScalar(size * 1.5));
  state.camera.near = size / 100; state.camera.far = size * 20; state.camera.updateProjectionMatrix();
  for (const v of state.viewers) { v.controls.target.copy(centre); v.controls.update(); }
}

// ---- task --------------------------------------------------------------------------------
function closeTask() {
  state.task = null; $('task-title').textContent = 'no task open'; $('task-status').textContent = '';
  $('accept').disabled = true; $('reject').disabled = true; $('parts').innerHTML = '';
  for (const v of state.viewers) { v.setParts(new Float32Array(0), new Int32Array(0), () => '#000'); v.render(); }
  document.body.dataset.viewer = 'empty';
}

async function openTask(id) {
  try {
    await loadTask(id);
  } catch (e) {
    document.body.dataset.viewer = 'error';
    say(`could not open task #${id}: ${e.message}`, true);
  }
}

async function loadTask(id) {
  document.body.dataset.viewer = 'loading';
  say('');
  const task = await api(`/tasks/${id}`);
  const [geom, submitted, initial] = await Promise.all([
    api(`/review/tasks/${id}/geometry`, { binary: true }),
    api(`/review/tasks/${id}/labels/${task.revision}`, { binary: true }),
    api(`/review/tasks/${id}/labels/1`, { binary: true }),
  ]);
  state.task = task;
  const positions = new Float32Array(geom);
  const rankColour = (_id, rank) => PALETTE[rank % PALETTE.length];
  state.parts = state.viewers[0].setParts(positions, new Int32Array(submitted), rankColour);
  const matched = matchColours(new Int32Array(submitted), new Int32Array(initial), state.parts);
  state.viewers[1].setParts(positions, new Int32Array(initial), (id) => matched.get(id));
  frame(positions);
  $('explode').value = 0; explode();
  $('task-title').textContent = `#${task.id} ${task.uid}`;
  $('task-status').textContent = `${task.status} · revision ${task.revision} by ${task.revision_author}` +
    (task.verdict === 'rejected' ? ` · annotator flagged the object: ${task.reason || ''}` : '');
  $('parts').innerHTML = state.parts.map((p) => `<li data-id="${p.id}"><span class="swatch" style="background:#${p.colour.getHexString()}"></span>` +
    `${escapeHtml(task.part_names[String(p.id)] || `part ${p.id}`)} <small>${p.faces} faces</small></li>`).join('');
  for (const li of $('parts').children) {
    li.addEventListener('mouseenter', () => { li.classList.add('hover'); state.viewers[0].highlight(Number(li.dataset.id)); renderAll(); });
    li.addEventListener('mouseleave', () => { li.classList.remove('hover'); state.viewers[0].highlight(null); renderAll(); });
  }
  const reviewable = task.status === 'submitted';
  $('accept').disabled = !reviewable; $('reject').disabled = !reviewable;
  markCurrent();
  renderAll();
  document.body.dataset.viewer = 'ready';
  document.body.dataset.task = String(task.id);
}

// colours of the automatic parts: the colour of the submitted part sharing most faces with it
// (one-to-one, largest overlaps first); parts left over take the palette colours not used yet
function matchColours(submitted, initial, parts) {
  const overlap = new Map();
  for (let f = 0; f < submitted.length; f++) {
    const key = `${initial[f]} ${submitted[f]}`;
    overlap.set(key, (overlap.get(key) || 0) + 1);
  }
  const colourOf = new Map(parts.map((p) => [p.id, `#${p.colour.getHexString()}`]));
  const pairs = [...overlap.entries()].map(([k, n]) => [...k.split(' ').map(Number), n]).sort((x, y) => y[2] - x[2] || x[1] - y[1]);
  const out = new Map(); const taken = new Set();
  for (const [a, b] of pairs) {
    if (!out.has(a) && !taken.has(b)) { out.set(a, colourOf.get(b)); taken.add(b); }
  }
  const free = PALETTE.filter((c) => ![...out.values()].includes(c));
  for (const [a] of pairs) if (!out.has(a)) out.set(a, free.shift() || '#888888');
  return out;
}

function explode() {
  const t = Number($('explode').value) / 100;
  for (const v of state.viewers) v.explode(t, state.centre || new THREE.Vector3(), state.size || 1);
  renderAll();
}

async function decide(decision) {
  if (!state.task || state.task.status !== 'submitted') return;
  const comment = $('comment').value.trim();
  if (decision === 'reject' && !comment) { say('write why you reject it in the comment box first', true); $('comment').focus(); return; }
  const task = state.task;
  try {
    await api(`/tasks/${task.id}/review`, { method: 'POST', headers: { 'If-Match': `"${task.revision}"` },
      body: { decision, comment } });
  } catch (e) {
    if (e.status === 412 || e.status === 409) say(`task #${task.id} changed since you opened it (${e.message}); reload it`, true);
    else say(`could not ${decision} task #${task.id}: ${e.message}`, true);
    return;
  }
  $('comment').value = '';
  const done = `${decision === 'accept' ? 'accepted' : 'rejected'} task #${task.id}`;
  await loadQueue();
  const rest = state.queue.filter((t) => t.id !== task.id);
  if (rest.length) await openTask(rest[0].id); else closeTask();
  say(done);
}

// ---- dashboard ---------------------------------------------------------------------------
async function loadDashboard() {
  if (!state.project) return;
  const d = await api(`/projects/${encodeURIComponent(state.project)}/dashboard`);
  const s = d.stats;
  const states = { queued: s.queued, 'in progress': s.in_progress, submitted: s.submitted, accepted: s.done,
    'review rejections': s.review_rejections, 'unsuitable objects': s.rejected_objects };
  $('states').innerHTML = Object.entries(states).map(([k, v]) => `<div class="state" data-state="${k}"><b>${v}</b>${k}</div>`).join('');
  const rej = Object.fromEntries(d.rejection.map((r) => [r.annotator, r]));
  const fmt = (x, digits = 1) => (x === null || x === undefined ? '–' : Number(x).toFixed(digits));
  $('annotators').tBodies[0].innerHTML = s.annotators.map((a) => {
    const r = rej[a.annotator] || { reviewed: 0, rejection_rate: null };
    return `<tr><td>${escapeHtml(a.annotator)}</td><td>${a.submitted}</td><td>${a.accepted}</td><td>${fmt(a.tasks_per_hour)}</td>` +
      `<td>${fmt(a.median_seconds_per_task)}</td><td>${r.reviewed}</td><td>${r.rejection_rate === null ? '–' : `${(100 * r.rejection_rate).toFixed(0)}%`}</td></tr>`;
  }).join('');
  $('median').textContent = `median time per task: ${fmt(s.median_seconds_per_task)} s`;
  $('agreement').tBodies[0].innerHTML = d.agreement.map((a) => `<tr><td>#${a.task_id}</td><td>${escapeHtml(a.uid)}</td>` +
    `<td>${a.annotators.map(escapeHtml).join(' / ')}</td><td>${a.parts.join(' / ')}</td><td>${(100 * a.agreement).toFixed(1)}%</td></tr>`).join('');
  $('mean-agreement').textContent = d.mean_agreement === null ? 'no task was labelled twice yet' : `mean agreement ${(100 * d.mean_agreement).toFixed(1)}%`;
  document.body.dataset.dashboard = 'ready';
}

function showTab(name) {
  $('tab-review').classList.toggle('active', name === 'review');
  $('tab-dashboard').classList.toggle('active', name === 'dashboard');
  $('review').hidden = name !== 'review'; $('dashboard').hidden = name !== 'dashboard';
  if (name === 'dashboard') loadDashboard().catch((e) => say(e.message, true));
}

// ---- wiring ------------------------------------------------------------------------------
setupViewers();
$('login-form').addEventListener('submit', (e) => { e.preventDefault(); login($('token').value.trim()); });
$('logout').addEventListener('click', () => { sessionStorage.removeItem('partverse-token'); location.reload(); });
$('project').addEventListener('change', () => { state.project = $('project').value; closeTask(); loadQueue(); if (!$('dashboard').hidden) loadDashboard(); });
$('accept').addEventListener('click', () => decide('accept'));
$('reject').addEventListener('click', () => decide('reject'));
$('next').addEventListener('click', () => nextTask());
$('explode').addEventListener('input', explode);
$('tab-review').addEventListener('click', () => showTab('review'));
$('tab-dashboard').addEventListener('click', () => showTab('dashboard'));
document.addEventListener('keydown', (e) => {
  const el = document.activeElement;
  const typing = el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && !['range', 'checkbox', 'button'].includes(el.type));
  if (typing) {
    if (e.key === 'Enter' && e.ctrlKey && document.activeElement === $('comment')) { e.preventDefault(); decide('reject'); }
    if (e.key === 'Escape') document.activeElement.blur();
    return;
  }
  if ($('review').hidden) return;
  if (e.key === 'a') { e.preventDefault(); decide('accept'); }
  else if (e.key === 'r') { e.preventDefault(); if ($('comment').value.trim()) decide('reject'); else $('comment').focus(); }
  else if (e.key === 'n') { e.preventDefault(); nextTask(); }
});
closeTask();
if (state.token) login(state.token);
