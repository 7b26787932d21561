"""A minimal Streamlit client over the app's own websocket (``/_stcore/stream``), for load tests.

It speaks the protocol the browser speaks (protobuf ``BackMsg`` up, ``ForwardMsg`` down), so the
real server runs the real script for each connection, in its own session: no rendering cost on the
test side, so many sessions fit on a small machine. Only what the load test needs: open a page with a
URL query, see the widgets and elements of the last run, set widget values, press buttons, wait for
the run to finish.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlparse

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

WIDGETS = ("button", "number_input", "slider", "selectbox", "multiselect", "checkbox", "radio", "date_input",
           "text_input", "button_group")


@dataclass
class Run:
    """What one script run sent: elements by type, the widgets by label, and how it ended."""

    elements: list = field(default_factory=list)  # Element protos, in arrival order
    widgets: dict[str, object] = field(default_factory=dict)  # label → widget proto (has .id)
    kinds: dict[str, object] = field(default_factory=dict)  # widget kind → proto, keyed "kind:id"
    status: int | None = None  # ForwardMsg.ScriptFinishedStatus

    def of_type(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.elements if e.WhichOneof("type") == kind]

    def texts(self) -> list[str]:
        """Every markdown / alert / html body of the run (what a user reads)."""
        out = [m.body for m in self.of_type("markdown")] + [h.body for h in self.of_type("html")]
        return out + [a.body for a in self.of_type("alert")]


class Session:
    """One websocket session on a local Streamlit server (refuses any other host)."""

    def __init__(self, base_url: str, page: str, query: str, timeout_s: float = 150) -> None:
        u = urlparse(base_url)
        if u.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"load tests run against the local machine only, not {u.hostname}")
        self.base, self.page, self.query, self.timeout_s = base_url, page, query, timeout_s
        self.ws = None
        self.state: dict[str, WidgetState] = {}  # widget id → last value sent (the browser resends them all)
        self.last = Run()

    async def __aenter__(self) -> Session:
        u = urlparse(self.base)
        self.ws = await websockets.connect(f"ws://{u.netloc}/_stcore/stream", subprotocols=["streamlit"],
                                           origin=f"http://{u.netloc}", max_size=None, open_timeout=30)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def rerun(self, changes: list[WidgetState] = ()) -> Run:
        """Send one rerun as the browser does (the value of every widget on the page, ``changes`` applied)
        and wait for the end of the script run it starts."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string, cs.page_name = self.query, self.page
        by_id = {w.id: w for w in changes}
        for w in changes:
            if w.WhichOneof("value") != "trigger_value":  # a press is sent once, a value is kept
                self.state[w.id] = w
        cs.widget_states.widgets.extend(by_id.get(i, w) for i, w in self.state.items())
        cs.widget_states.widgets.extend(w for i, w in by_id.items() if i not in self.state)
        await self.ws.send(msg.SerializeToString())
        run = await asyncio.wait_for(self._collect(), self.timeout_s)
        # The page's widgets now: a widget keeps the client's value unless it is new or the script set it.
        live = {w.id for w in run.widgets.values()}
        self.state = {i: w for i, w in self.state.items() if i in live}
        for key, w in run.kinds.items():
            kind = key.split(":", 1)[0]
            if w.id not in self.state or getattr(w, "set_value", False):
                st = _shown_value(kind, w)
                if st is not None:
                    self.state[w.id] = st
        return run

    async def _collect(self) -> Run:
        run = Run()
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await self.ws.recv())
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                run.elements.append(el)
                wkind = el.WhichOneof("type")
                if wkind in WIDGETS:
                    w = getattr(el, wkind)
                    run.widgets[w.label] = w
                    run.kinds[f"{wkind}:{w.id}"] = w
            elif kind == "page_info_changed":  # the app rewrote its URL (st.query_params): the browser follows
                self.query = fm.page_info_changed.query_string
            elif kind == "script_finished":
                if fm.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    run = Run()  # superseded (e.g. st.rerun): the next run's messages follow
                    continue
                run.status = fm.script_finished
                self.last = run
                return run

    def widget(self, label: str):
        if label not in self.last.widgets:
            raise KeyError(f"no widget '{label}' in the last run; widgets: {sorted(self.last.widgets)}")
        return self.last.widgets[label]

    async def press(self, label: str, changes: list[WidgetState] = ()) -> Run:
        return await self.rerun([*changes, WidgetState(id=self.widget(label).id, trigger_value=True)])

    async def set_number(self, label: str, value: float) -> Run:
        return await self.rerun([WidgetState(id=self.widget(label).id, double_value=value)])


def _shown_value(kind: str, w) -> WidgetState | None:
    """The value a browser shows for a widget proto the server sent (its set value, else its default),
    as the WidgetState the browser sends back; None for buttons and kinds the load test does not use."""
    out = WidgetState(id=w.id)
    if kind == "selectbox":
        if w.set_value:
            out.string_value = w.raw_value
        elif 0 <= w.default < len(w.options):
            out.string_value = w.options[w.default]
        else:
            return None
    elif kind == "multiselect":
        out.string_array_value.data.extend(list(w.raw_values) if w.set_value else [w.options[i] for i in w.default])
    elif kind == "slider":
        out.double_array_value.data.extend(w.value if w.set_value else w.default)
    elif kind == "number_input":
        out.double_value = w.value if w.set_value else w.default
    elif kind == "date_input":
        out.string_array_value.data.extend(w.value if w.set_value else w.default)
    elif kind in ("checkbox", "toggle"):
        out.bool_value = w.value if w.set_value else w.default
    else:
        return None
    return out
