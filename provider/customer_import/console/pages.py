"""Server-rendered pages of the console, shown inside the Airflow UI (external views): the list of
imports ("Customer imports") and an import's tab ("Import"). No asset is fetched from the internet:
the style is inline (Airflow's system font stack and colours, light and dark with the browser's
preference), and one small inline script calls the JSON API for Run now, Set cursor and the preview.

The pages go through the same user dependency and DAG checks as the API.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any
from zoneinfo import ZoneInfo

from airflow.api_fastapi.core_api.security import GetUserDep as User
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from customer_import.console import airflow_state as state
from customer_import.console.api import _import, imports_list, problems_list

URL_PREFIX = "/customer-imports"

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M16 21v-2a4 4 0 0 0-4-4H6a4 '
    '4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/><path d="M22 21v-2a4 4 0 0 0-3-3.87"/><path d="M16 3.13a4 '
    '4 0 0 1 0 7.75"/></svg>'
)

STYLE = """
:root { color-scheme: light dark; --fg:#1a202c; --muted:#4a5568; --bg:#ffffff; --panel:#f7fafc;
  --line:#e2e8f0; --accent:#017cee; --ok:#38a169; --bad:#e53e3e; --warn:#dd6b20; }
@media (prefers-color-scheme: dark) { :root { --fg:#e2e8f0; --muted:#a0aec0; --bg:#1a202c;
  --panel:#2d3748; --line:#4a5568; --accent:#63b3ed; } }
body { font-family: Inter, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); margin: 16px; font-size: 14px; }
h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; width: 100%; } th, td { padding: 6px 8px; border-bottom: 1px solid
  var(--line); text-align: left; vertical-align: top; } th { color: var(--muted); font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); } .chip { padding: 1px 8px; border-radius: 10px; background: var(--panel);
  border: 1px solid var(--line); margin-right: 4px; white-space: nowrap; }
.success { color: var(--ok); } .failed { color: var(--bad); } .running, .queued { color: var(--warn); }
button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: 6px 12px;
  cursor: pointer; } input { padding: 5px; border: 1px solid var(--line); border-radius: 4px;
  background: var(--bg); color: var(--fg); }
pre { background: var(--panel); padding: 8px; border-radius: 4px; overflow-x: auto; }
a { color: var(--accent); } #msg { margin: 8px 0; font-weight: 600; }
"""

SCRIPT = """
async function call(method, url, body) {
  const r = await fetch(url, {method, credentials: 'same-origin',
    headers: body ? {'Content-Type': 'application/json'} : {}, body: body ? JSON.stringify(body) : undefined});
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.detail ? (typeof data.detail === 'string' ? data.detail
    : JSON.stringify(data.detail)) : r.statusText);
  return data;
}
function say(text) { document.getElementById('msg').textContent = text; }
async function runNow(api) {
  if (!confirm('Start a run of this import now?')) return;
  try { const d = await call('POST', api + '/runs'); say('Run queued: ' + d.run_id);
        setTimeout(() => location.reload(), 1500); } catch (e) { say('Run now failed: ' + e.message); }
}
async function setCursor(api) {
  const input = document.getElementById('cursor');
  const value = input.value, current = input.dataset.current;
  if (!confirm('Move the cursor from ' + current + ' to ' + value + '?')) return;
  try { const d = await call('PUT', api + '/cursor', {value}); say('Cursor set to ' + d.cursor); }
  catch (e) { say('Set cursor failed: ' + e.message); }
}
async function preview(api) {
  const out = document.getElementById('preview'); out.textContent = 'Reading the first row…';
  try { const cols = await call('GET', api + '/preview?rows=1');
    out.innerHTML = '<table><tr><th>column</th><th>field</th><th>first value</th><th>mapped</th>' +
      '<th>error</th></tr>' + cols.map(c => '<tr>' + [c.column, c.field, c.first_value, c.mapped, c.error]
      .map(v => '<td>' + (v === null || v === undefined ? '' : String(v)).replace(/[&<>]/g,
        ch => ({'&': '&amp;', '<': '&lt;', '>': '&gt;'}[ch])) + '</td>').join('') + '</tr>').join('') +
      '</table>';
  } catch (e) { out.textContent = 'Preview failed: ' + e.message; }
}
"""

e = html.escape


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style>"
        f"<script>{SCRIPT}</script></head><body>{body}</body></html>"
    )


def number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "–"


def duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "–"
    seconds = int((dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{seconds} s"]
    return " ".join(p for p in parts if p) if (hours or minutes) else f"{seconds} s"


def local_time(value: str | None, timezone: str) -> str:
    if not value:
        return "–"
    moment = dt.datetime.fromisoformat(value).astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M")


def _counts_cells(counts: dict[str, Any]) -> str:
    return "".join(
        f"<td class='n'>{number(counts.get(k))}</td>"
        for k in ("read", "created", "updated", "unchanged", "skipped", "failed")
    )


COUNT_HEADERS = (
    "<th>read</th><th>created</th><th>updated</th><th>unchanged</th><th>skipped</th><th>failed</th>"
)


def imports_page(user: Any) -> HTMLResponse:
    rows = []
    for item in imports_list(user):
        last = item["last_run"] or {}
        tz = item["timezone"]
        state_text = last.get("state") or "no run yet"
        rows.append(
            f"<tr><td><a href='{URL_PREFIX}/ui/imports/{e(item['name'])}'>{e(item['name'])}</a><div class='muted'>"
            f"{e(item['description'] or '')}</div>"
            + "".join(f"<span class='chip'>{e(label)}</span>" for label in item["labels"])
            + f"</td><td>{e(item['database'])}</td><td>{e(item['schedule'])}<div class='muted'>{e(tz)}"
            f"</div></td><td>{'paused' if item['paused'] else ('active' if item['paused'] is False else '–')}"
            f"</td><td>{local_time(item['next_run'], tz)}</td><td>{e(str(item['cursor'] or '–'))}</td>"
            f"<td class='{e(state_text)}'>{e(state_text)}<div class='muted'>{local_time(last.get('start'), tz)}"
            f"</div></td>{_counts_cells(last.get('counts') or {})}</tr>"
        )
    problems = problems_list()
    problem_list = "".join(
        f"<li>{e(p['file'])}{':' + str(p['line']) if p['line'] else ''}: {e(p['path'])}: {e(p['message'])}</li>"
        for p in problems
    )
    body = (
        "<h1>Customer imports</h1><table><tr><th>import</th><th>database</th><th>schedule</th><th>paused</th>"
        f"<th>next run</th><th>cursor</th><th>last run</th>{COUNT_HEADERS}</tr>{''.join(rows)}</table>"
        + (f"<h2>Broken specs</h2><ul>{problem_list}</ul>" if problems else "")
    )
    return _page("Customer imports", body)


def _cursor_move(before: Any, after: Any) -> str:
    """``before → after`` of a run; a run without a report yet (queued, running) has no cursor move (a dash)."""
    if before is None and after is None:
        return "–"
    return f"{e('–' if before is None else str(before))} → {e('–' if after is None else str(after))}"


def import_page(found: state.Import) -> HTMLResponse:
    spec = found.spec
    tz = spec.schedule.timezone
    api = f"{URL_PREFIX}/api/imports/{spec.name}"
    cursor = state.cursor_text(spec)
    runs = state.runs(spec.name, 10)
    run_rows = "".join(
        f"<tr><td>{e(r['run_id'])}</td><td>{e(r['run_type'])}</td><td class='{e(str(r['state']))}'>"
        f"{e(str(r['state']))}</td><td>{local_time(r['start'], tz)}</td><td>{duration(r['start'], r['end'])}"
        f"</td>{_counts_cells(r['counts'])}<td>{_cursor_move(r['cursor_before'], r['cursor_after'])}</td>"
        f"<td>{', '.join(f'{e(code)} {n:,}' for code, n in list(r['errors_by_code'].items())[:3])}</td>"
        f"<td><a href='{api}/runs/{e(r['run_id'])}/rejected.csv'>Rejected rows (CSV)</a></td></tr>"
        for r in runs
    )
    source = spec.source
    mapping = "".join(f"<tr><td>{e(m.column)}</td><td>{e(m.field)}</td></tr>" for m in spec.mapping)
    cursor_form = (
        f"<h2>Cursor</h2><p>{e(source.cursor.column)} = <b>{e(str(cursor))}</b></p>"
        f"<input id='cursor' value='{e(str(cursor))}' data-current='{e(str(cursor))}'> "
        f"<button onclick=\"setCursor('{api}')\">Set cursor</button>"
        if source.cursor is not None
        else ""
    )
    body = (
        f"<h1>{e(spec.name)}</h1><p class='muted'>{e(spec.description or '')}</p>"
        f"<button onclick=\"runNow('{api}')\">Run now</button><div id='msg'></div>"
        f"<h2>Last runs</h2><table><tr><th>run</th><th>type</th><th>state</th><th>start</th>"
        f"<th>duration</th>{COUNT_HEADERS}<th>cursor</th><th>top errors</th><th></th></tr>{run_rows}</table>"
        f"<h2>Source</h2><p>connection <b>{e(source.conn_id)}</b>, table <b>{e(source.table or '–')}</b>"
        f"{', cursor column <b>' + e(source.cursor.column) + '</b>' if source.cursor else ''}</p>"
        f"<pre>{e(source.query)}</pre>{cursor_form}"
        f"<h2>Mapping</h2><table><tr><th>column</th><th>field</th></tr>{mapping}</table>"
        f"<p><button onclick=\"preview('{api}')\">Preview the first row</button></p><div id='preview'></div>"
    )
    return _page(f"Import {spec.name}", body)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/ui")

    @router.get("/icon.svg")
    def icon() -> Response:
        return Response(ICON, media_type="image/svg+xml")

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    def imports(user: User) -> HTMLResponse:
        return imports_page(user)

    @router.get("/imports/{name}", response_class=HTMLResponse)
    def one_import(name: str, request: Request, user: User) -> HTMLResponse:
        return import_page(_import(name, request, user))

    return router
