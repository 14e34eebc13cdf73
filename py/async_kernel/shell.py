"""The IPython shell the kernel runs cells in; it publishes through a :class:`~async_kernel.interfaces.Publisher`.

Importing this module imports IPython (slow: hundreds of milliseconds natively, seconds in Pyodide), so the
kernel imports it only once it can already answer ``kernel_info_request``.
"""

from __future__ import annotations

import asyncio
import builtins
import getpass
import inspect
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Any

from IPython.core import page, payloadpage
from IPython.core.compilerop import CachingCompiler
from IPython.core.completer import provisionalcompleter, rectify_completions
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import StdinNotImplementedError
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.tokenutil import token_at_cursor
from traitlets import Any as AnyTrait
from traitlets import Type

from .interfaces import InputUnavailable, Outcome

if TYPE_CHECKING:
    from .interfaces import Cell, Publisher

#: whether the current execute request allows ``input()``
allow_stdin: ContextVar[bool] = ContextVar("async_kernel_allow_stdin", default=False)


def _cancellation_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [asyncio.CancelledError]
    trio = sys.modules.get("trio")
    if trio is not None:
        types.append(trio.Cancelled)
    return tuple(types)


def _close_unstarted_coroutines(tb: TracebackType | None) -> None:
    """Close the coroutine a failed ``asyncio.run(coro())`` or ``loop.run_until_complete(coro())`` was given.

    In a cell both run on a helper thread (:mod:`async_kernel.nested`); elsewhere, in a coroutine that such a
    call runs say, they refuse to run inside a running loop before they touch their argument. The traceback
    (kept for ``%debug``) holds the coroutine, so its "coroutine ... was never awaited" warning would appear
    much later, in the output of whichever cell drops that traceback. The cell's own error already says what
    went wrong.
    """
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_globals.get("__name__") in ("asyncio.runners", "asyncio.base_events"):
            for value in list(frame.f_locals.values()):
                if inspect.iscoroutine(value) and inspect.getcoroutinestate(value) == inspect.CORO_CREATED:
                    value.close()
        tb = tb.tb_next


class CellCompiler(CachingCompiler):
    """IPython's compiler; a debugger sets :attr:`name_cell` so that each cell is compiled under the file name
    its breakpoints are set in (see :func:`async_kernel.debugger.cell_filename`)."""

    name_cell: Callable[[str], str] | None = None

    def get_code_name(self, raw_code: str, transformed_code: str, number: int) -> str:
        if self.name_cell is not None:
            return self.name_cell(raw_code)
        return super().get_code_name(raw_code, transformed_code, number)


class KernelDisplayHook(DisplayHook):
    """Sends a cell's value as ``execute_result``."""

    publisher = AnyTrait()

    def start_displayhook(self) -> None:
        self._content: dict[str, Any] = {}

    def write_output_prompt(self) -> None:
        self._content["execution_count"] = self.prompt_count

    def write_format_data(self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None) -> None:
        self._content["data"] = format_dict
        self._content["metadata"] = md_dict or {}

    def finish_displayhook(self) -> None:
        if "data" in self._content:
            self.publisher.publish("execute_result", self._content)
        self._content = {}


class KernelDisplayPublisher(DisplayPublisher):
    """Sends ``display_data``, ``update_display_data`` and ``clear_output``."""

    publisher = AnyTrait()

    def publish(  # type: ignore[override]
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        source: str | None = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
        self.publisher.publish("update_display_data" if update else "display_data", content)

    def clear_output(self, wait: bool = False) -> None:
        self.publisher.publish("clear_output", {"wait": wait})


def load_profile() -> dict[str, Any]:
    """The default IPython profile's directory and its ``ipython_config.py`` / ``ipython_kernel_config.py``."""
    from IPython.core.profiledir import ProfileDir
    from IPython.paths import get_ipython_dir
    from traitlets.config.loader import load_pyconfig_files

    profile_dir = ProfileDir.create_profile_dir_by_name(get_ipython_dir(), "default")
    config = load_pyconfig_files(["ipython_config.py", "ipython_kernel_config.py"], profile_dir.location)
    return {"config": config, "profile_dir": profile_dir}


class KernelShell(InteractiveShell):
    """An :class:`InteractiveShell` whose output, errors, payloads and input go through a publisher."""

    compiler_class = Type(CellCompiler)
    displayhook_class = Type(KernelDisplayHook)
    display_pub_class = Type(KernelDisplayPublisher)
    publisher = AnyTrait()

    def __init__(self, publisher: Publisher, **kwargs: Any) -> None:
        super().__init__(publisher=publisher, **kwargs)
        self.displayhook.publisher = publisher
        self.display_pub.publisher = publisher
        self.interrupted = False
        #: the thread whose running cell an interrupt is held for (see :meth:`hold_interrupt`)
        self._interrupt_held_for: int | None = None
        self.last_traceback: list[str] = []
        #: Awaited with each cell's transformed code before it runs (the browser host loads the
        #: Pyodide packages a cell imports); an exception is the cell's error.
        self.before_cell: list[Callable[[str], Awaitable[None]]] = []
        self.set_hook("show_in_pager", page.as_hook(payloadpage.page), 99)
        if self.history_manager is not None and self.history_manager.db_cache_size == 0:
            # Writing every cell to SQLite at once costs ~2 ms per execute (a commit under the cache lock).
            # History queries write the cache out first, and exit saves it, so batching loses nothing
            # but a crash (at most the last thousand inputs).
            self.history_manager.db_cache_size = 1000
        builtins.input = self.input
        getpass.getpass = self.getpass

    def run_startup_files(self) -> None:
        """Run the profile's ``startup/*.py`` and ``*.ipy`` files, in name order, as IPython does."""
        startup = Path(self.profile_dir.startup_dir)
        for path in sorted(startup.glob("*.py")) + sorted(startup.glob("*.ipy")):
            if path.suffix == ".ipy":
                self.safe_execfile_ipy(str(path))
            else:
                self.safe_execfile(str(path), self.user_ns)

    def init_environment(self) -> None:
        env = os.environ
        env["PAGER"] = "cat"
        env["GIT_PAGER"] = "cat"
        env.setdefault("CLICOLOR", "1")
        env.setdefault("TERM", "xterm-color")

    def enable_gui(self, gui: str | None = None) -> None:
        """``%gui``: a GUI toolkit's loop can only host the kernel from the start (``--host``), never be added.

        In a kernel hosted by that toolkit (``async-kernel install --host tk``) this is a no-op; otherwise the
        error (shown by ``%gui`` as one line) says which kernelspec to install and switch to.
        """
        from .hosts import gui as gui_host

        wanted = {"qt": "qt", "qt6": "qt", "tk": "tk"}.get(gui or "", gui)
        if wanted == gui_host.active or (wanted is None and gui_host.active is None):
            self.active_eventloop = gui
            return
        if wanted is None:
            message = f"This kernel runs inside {gui_host.active}'s main loop: it cannot be turned off"
        elif wanted not in gui_host.HOSTS:
            message = f"async-kernel cannot run inside {gui!r}'s loop; it supports: tk, qt (see docs/gui.md)"
        else:
            where = f"inside {gui_host.active}'s main loop" if gui_host.active else "without a GUI loop"
            message = (
                f"This kernel runs {where}; %gui cannot switch loops. For {wanted}, install a kernelspec hosted"
                f" by it, then switch to that kernel:  async-kernel install --host {wanted} --name python-{wanted}"
            )
        print(message, file=sys.stderr)  # %gui only logs what it catches: show it in the cell's output too
        raise RuntimeError(message)

    # -- errors ------------------------------------------------------------------------------------
    def showtraceback(
        self,
        exc_tuple: Any = None,
        filename: str | None = None,
        tb_offset: int | None = None,
        exception_only: bool = False,
        running_compiled_code: bool = False,
    ) -> None:
        """Show an interrupted cell's cancellation as the KeyboardInterrupt the user asked for."""
        try:
            etype, _value, tb = self._get_exc_info(exc_tuple)
        except ValueError:
            etype, tb = None, None
        if etype is not None and self.interrupted and issubclass(etype, _cancellation_types()):
            exc_tuple = (KeyboardInterrupt, KeyboardInterrupt(), tb)
        elif etype is RuntimeError:
            _close_unstarted_coroutines(tb)
        super().showtraceback(exc_tuple, filename, tb_offset, exception_only, running_compiled_code)

    def _showtraceback(self, etype: type[BaseException], evalue: BaseException, stb: list[str]) -> None:
        self.last_traceback = list(stb)
        content = {"traceback": self.last_traceback, "ename": etype.__name__, "evalue": str(evalue)}
        self.publisher.publish("error", content)

    # -- payloads ----------------------------------------------------------------------------------
    def set_next_input(self, text: str, replace: bool = False) -> None:
        self.payload_manager.write_payload({"source": "set_next_input", "text": text, "replace": replace})

    def ask_exit(self) -> None:
        self.exit_now = True
        self.payload_manager.write_payload({"source": "ask_exit", "keepkernel": False})

    # -- stdin -------------------------------------------------------------------------------------
    def input(self, prompt: object = "") -> str:
        """``input()`` over the stdin channel."""
        return self._read(str(prompt), password=False)

    def getpass(self, prompt: str = "Password: ", stream: Any = None) -> str:
        """``getpass.getpass()`` over the stdin channel."""
        return self._read(prompt, password=True)

    def _read(self, prompt: str, password: bool) -> str:
        if not allow_stdin.get():
            raise StdinNotImplementedError("input() was called, but this frontend does not support input requests.")
        try:
            return self.publisher.request_input(prompt, password)
        except InputUnavailable as exc:
            raise StdinNotImplementedError(str(exc)) from None

    # -- running cells ------------------------------------------------------------------------------
    async def run(self, cell: Cell) -> Outcome:
        """Run ``cell`` on the caller's event loop; the outcome knows its ``execute_reply``."""
        if self._interrupt_held_for == threading.get_ident():
            self._interrupt_held_for = None  # held for a cell of this thread that had no statement left
        token = allow_stdin.set(cell.allow_stdin)
        try:
            result = await self.run_cell_concurrently(
                cell.code, silent=cell.silent, store_history=cell.store_history, cell_id=cell.cell_id
            )
        finally:
            allow_stdin.reset(token)
        count = result.execution_count if result.execution_count is not None else self.execution_count
        error = result.error_before_exec or result.error_in_exec
        try:
            if error is not None:
                return self._failure(count, type(error).__name__, str(error))
            expressions = self.user_expressions(cell.user_expressions) if cell.user_expressions else {}
            return Outcome(count, payload=self.payload_manager.read_payload(), user_expressions=expressions)
        finally:
            self.payload_manager.clear_payload()

    def hold_interrupt(self) -> None:
        """SIGINT arrived while this thread runs a cell but none of its statements: the next statement of the
        cell raises KeyboardInterrupt instead of running (see :class:`~async_kernel.interrupts.SigintPolicy`).
        Called from the SIGINT handler; an interrupt is never held for a later cell."""
        self._interrupt_held_for = threading.get_ident()

    async def run_code(
        self, code_obj: CodeType, result: ExecutionResult | None = None, *, async_: bool = False
    ) -> bool:
        """Run one statement of a cell (IPython's ``run_code``), unless an interrupt is held for the cell."""
        if self._interrupt_held_for == threading.get_ident():
            self._interrupt_held_for = None
            interrupt = KeyboardInterrupt()
            if result is not None:
                result.error_in_exec = interrupt
            self.showtraceback((KeyboardInterrupt, interrupt, None))
            return True  # as for any error: the cell's remaining statements do not run
        return await super().run_code(code_obj, result, async_=async_)

    def interrupt(self) -> None:
        """The awaiting cells are being cancelled by an interrupt: show that as KeyboardInterrupt."""
        self.interrupted = True

    def interrupted_outcome(self) -> Outcome:
        """The outcome of a cell cancelled before it could end by itself."""
        self.payload_manager.clear_payload()
        return self._failure(self.execution_count, "KeyboardInterrupt", "")

    def _failure(self, count: int, name: str, evalue: str) -> Outcome:
        if self.interrupted or name == "KeyboardInterrupt":
            name, evalue = "KeyboardInterrupt", ""
        return Outcome(count, error=name, evalue=evalue, traceback=list(self.last_traceback))

    async def run_cell_concurrently(
        self, code: str, *, silent: bool, store_history: bool, cell_id: str | None = None
    ) -> ExecutionResult:
        """Like :meth:`run_cell`, but awaited on the caller's event loop so cells may ``await``."""
        self.interrupted = False
        self.last_traceback = []
        preprocessing_exc_tuple = None
        try:
            transformed = self.transform_cell(code)
        except Exception:
            transformed = code
            preprocessing_exc_tuple = sys.exc_info()
        for hook in self.before_cell if preprocessing_exc_tuple is None else ():
            try:
                await hook(transformed)
            except Exception:
                preprocessing_exc_tuple = sys.exc_info()
                break
        result: ExecutionResult | None = None
        try:
            result = await self.run_cell_async(
                code,
                store_history=store_history,
                silent=silent,
                transformed_cell=transformed,
                preprocessing_exc_tuple=preprocessing_exc_tuple,
                cell_id=cell_id,
            )
        finally:
            self.events.trigger("post_execute")
            if not silent:
                self.events.trigger("post_run_cell", result)
        return result

    def user_expressions(self, expressions: dict[str, str]) -> dict[str, Any]:
        """Evaluate ``user_expressions`` of an execute request; a failing one reports its error."""
        out: dict[str, Any] = {}
        for key, expr in expressions.items():
            try:
                value = self._format_user_obj(eval(expr, self.user_global_ns, self.user_ns))
            except BaseException as exc:
                value = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc), "traceback": []}
            out[key] = value
        return out

    # -- introspection (runs on the helper thread natively) ---------------------------------------
    def complete_request(self, code: str, cursor_pos: int) -> dict[str, Any]:
        with provisionalcompleter():
            completions = list(rectify_completions(code, self.Completer.completions(code, cursor_pos)))
        start = completions[0].start if completions else cursor_pos
        end = completions[0].end if completions else cursor_pos
        types = [
            {"start": c.start, "end": c.end, "text": c.text, "type": c.type, "signature": c.signature}
            for c in completions
        ]
        return {
            "status": "ok",
            "matches": [c.text for c in completions],
            "cursor_start": start,
            "cursor_end": end,
            "metadata": {"_jupyter_types_experimental": types},
        }

    def inspect_request(self, code: str, cursor_pos: int, detail_level: int) -> dict[str, Any]:
        name = token_at_cursor(code, cursor_pos)
        try:
            bundle = self.object_inspect_mime(name, detail_level=detail_level)
        except KeyError:
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        if not self.enable_html_pager:
            bundle.pop("text/html", None)
        return {"status": "ok", "found": True, "data": bundle, "metadata": {}}

    def is_complete_request(self, code: str) -> dict[str, Any]:
        status, indent = self.input_transformer_manager.check_complete(code)
        content: dict[str, Any] = {"status": status}
        if status == "incomplete":
            content["indent"] = " " * (indent or 0)
        return content

    def history_request(self, content: dict[str, Any]) -> dict[str, Any]:
        hm = self.history_manager
        access = content.get("hist_access_type", "tail")
        raw = bool(content.get("raw", True))
        output = bool(content.get("output", False))
        if access == "tail":
            hist = hm.get_tail(int(content.get("n", 10)), raw=raw, output=output, include_latest=True)
        elif access == "range":
            hist = hm.get_range(
                int(content.get("session", 0)),
                int(content.get("start", 1)),
                content.get("stop"),
                raw=raw,
                output=output,
            )
            # the current session comes back as session 0: name it, as "tail" and "search" do
            hist = [(hm.session_number if session == 0 else session, *rest) for session, *rest in hist]
        elif access == "search":
            hist = hm.search(
                content.get("pattern", "*"),
                raw=raw,
                output=output,
                n=content.get("n"),
                unique=bool(content.get("unique", False)),
            )
        else:
            raise ValueError(f"unknown hist_access_type {access!r}")
        return {"status": "ok", "history": list(hist)}
