"""Model output is never executed: injection payloads run nothing and import nothing.

Two proofs. (1) Through the pool, with a sentinel module on the workers' path: importing it, or
running the shell payload, would create a file under tmp_path; neither file appears. (2) In
process, SymPy's string parser (the only door to Python ``eval`` in this stack) is watched:
math-verify's expression path is never taken, and the only strings that reach the parser are
number tokens from latex2sympy's lexer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback

import pytest

from openrlhf_pure.core.grading import Grader, GradingConfig
from openrlhf_pure.core.grading.grade import grade_response


def payloads(marker_module: str, shell_target: str) -> list[str]:
    """Injection attempts aimed at eval/exec/sympify/parse_expr, in the places answers are read from."""
    code = [
        f"__import__('{marker_module}')",
        f'__import__("os").system("touch {shell_target}")',
        f"(lambda: __import__('{marker_module}'))()",
        f"exec('import {marker_module}')",
        f"eval(\"__import__('{marker_module}')\")",
        f"compile('import {marker_module}', 'x', 'exec')",
        f"().__class__.__base__.__subclasses__()[0]('{marker_module}')",
        f"Symbol('x').__class__.__init__.__globals__['__builtins__']['__import__']('{marker_module}')",
        f"1+1 if __import__('{marker_module}') else 2",
    ]
    wrapped = []
    for text in code:
        wrapped += [
            text,
            f"\\boxed{{{text}}}",
            f"The answer is {text}.",
            f"The final answer is ${text}$.",
            f"$${text}$$",
        ]
        wrapped.append(f"\\boxed{{\\operatorname{{{text}}}}}")
        wrapped.append(f"\\boxed{{\\text{{{text}}}}}")
    return wrapped


@pytest.fixture
def sentinel(tmp_path, monkeypatch):
    """A module that writes a marker file when imported, on the path of any worker started now."""
    marker = tmp_path / "imported"
    (tmp_path / "pure_sentinel_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker, tmp_path / "shell_ran"


def test_the_sentinel_detects_an_import_in_a_child_process(sentinel):
    marker, _ = sentinel
    subprocess.run([sys.executable, "-c", "import pure_sentinel_module"], check=True, env=os.environ.copy())
    assert marker.exists()


@pytest.mark.parametrize("prechecks", [True, False], ids=["prechecks", "no-prechecks"])
def test_payloads_run_nothing_in_the_workers(sentinel, prechecks):
    marker, shell_target = sentinel
    texts = payloads("pure_sentinel_module", str(shell_target))
    golds = ["1", "x^{2}", "pure_sentinel_module", None] * (len(texts) // 4 + 1)
    with Grader(workers=2, config=GradingConfig(prechecks=prechecks)) as grader:
        results = grader.grade_batch(texts, golds[: len(texts)])
    assert len(results) == len(texts)
    assert not marker.exists(), "the sentinel module was imported"
    assert not shell_target.exists(), "a shell command ran"


def test_only_number_tokens_reach_sympys_string_parser(sentinel, monkeypatch):
    import math_verify.parser
    import sympy.parsing.sympy_parser as sympy_parser

    marker, shell_target = sentinel
    grade_response("\\boxed{\\frac{1}{2}}", "x^{2}+1")  # first use imports SymPy modules that parse constants
    seen: list[str] = []
    real_parse_expr = sympy_parser.parse_expr

    def watched_parse_expr(text, *args, **kwargs):
        if not any("importlib" in frame.filename for frame in traceback.extract_stack()):
            seen.append(text)
        return real_parse_expr(text, *args, **kwargs)

    def expression_path(*args, **kwargs):
        raise AssertionError("math-verify's expression extraction (parse_expr) was used")

    monkeypatch.setattr(sympy_parser, "parse_expr", watched_parse_expr)
    monkeypatch.setattr(math_verify.parser, "parse_expr", expression_path)
    for config in (GradingConfig(), GradingConfig(prechecks=False)):
        for text in payloads("pure_sentinel_module", str(shell_target)) + ["\\boxed{3.5e5}", "\\boxed{1,000}"]:
            for gold in ("1", "x+1", "(1,2)"):
                grade_response(text, gold, config)
    assert seen, "the watch saw nothing: it is not watching the parser latex2sympy uses"
    assert all(re.fullmatch(r"[0-9.,eE+\- ]*", text) for text in seen), seen
    assert not marker.exists() and not shell_target.exists()


def test_the_closed_form_evaluator_hands_only_number_tokens_to_decimal(sentinel, monkeypatch):
    """Rule E2b reads answers with :class:`decimal.Decimal`: only number tokens reach its string parser."""
    from openrlhf_pure.core.grading import closed_form

    marker, shell_target = sentinel
    seen: list[str] = []
    real_decimal = closed_form.Decimal

    def watched_decimal(value="0", *args):
        if isinstance(value, str):
            seen.append(value)
        return real_decimal(value, *args)

    monkeypatch.setattr(closed_form, "Decimal", watched_decimal)
    texts = payloads("pure_sentinel_module", str(shell_target)) + [
        "\\boxed{2^{-3000}}",
        "\\boxed{٣.٥+\\pi}",
        "\\boxed{NaN}",
    ]
    for text in texts + ["\\boxed{Infinity-1}", "\\boxed{1e5+sNaN}"]:
        grade_response(text, "\\frac{1}{2}")
    assert "2" in seen and "٣.٥" in seen, "the watch saw nothing"
    assert all(re.fullmatch(r"\d+(\.\d*)?|\.\d+", text) for text in seen), seen
    assert not marker.exists() and not shell_target.exists()
