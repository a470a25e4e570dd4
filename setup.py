"""openrlhf-pure: PURE (min-form credit assignment for process reward models) on OpenRLHF.

Install with ``bash scripts/setup_env.sh`` (CPU or GPU flavour, see README). The requirements
declared here are the light ones only: ``pip install -e .`` on a CPU machine must not pull
flash-attn or a CUDA build of torch, so OpenRLHF, DeepSpeed, Ray and vLLM are installed by the
setup script (or the ``gpu`` extra) rather than as hard requirements.
"""

from setuptools import find_packages, setup

setup(
    name="openrlhf-pure",
    version="0.1.0",
    description="PURE min-form credit assignment for PRM-driven RL on OpenRLHF",
    python_requires=">=3.10",
    packages=find_packages(include=["openrlhf_pure", "openrlhf_pure.*"]),
    install_requires=["torch>=2.1", "transformers>=4.51", "tqdm", "numpy"],
    extras_require={
        "grader": ["math-verify==0.9.0"],
        "gpu": ["openrlhf[vllm]==0.11.2", "math-verify==0.9.0"],
    },
    entry_points={
        "console_scripts": [
            "pure-worked-example=openrlhf_pure.cli.worked_example:main",
            "pure-train-prm=openrlhf_pure.cli.train_prm:main",
            "pure-eval-prm=openrlhf_pure.cli.eval_prm:main",
            "pure-eval=openrlhf_pure.cli.eval:main",
            "pure-train-ray=openrlhf_pure.cli.train_pure_ray:main",
            "pure-demo=openrlhf_pure.cli.demo:main",
            "pure-plot=openrlhf_pure.cli.plot_metrics:main",
            "pure-train=openrlhf_pure.cli.train_local:main",
            "pure-serve-prm=openrlhf_pure.cli.serve_prm:main",
        ]
    },
)
