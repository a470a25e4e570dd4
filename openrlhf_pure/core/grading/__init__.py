"""Safe math grading: answer extraction, normalisation, equivalence and an isolated worker pool.

Modules, one purpose each: ``extract`` (the final answer of a response), ``normalize`` (string
rules), ``exact_numbers`` (exact plain numbers), ``closed_form`` (decimal evaluation of small
closed forms), ``precheck`` (hostile-input rejection), ``deadline`` (the in-process time bound),
``equivalence`` (the decision, with math-verify as the fallback), ``result`` (results,
reasons, config), ``grade`` (one item, in process), ``pool`` (the isolated batched
:class:`Grader`), ``dispatcher`` (its thread and workers), ``worker`` (the worker process) and
``reward`` (the verifiable reward).
"""

from openrlhf_pure.core.grading.extract import extract_answer
from openrlhf_pure.core.grading.grade import grade_response
from openrlhf_pure.core.grading.pool import Grader, GraderError
from openrlhf_pure.core.grading.result import GradeResult, GradingConfig, Reason

__all__ = ["Grader", "GraderError", "GradeResult", "GradingConfig", "Reason", "extract_answer", "grade_response"]
