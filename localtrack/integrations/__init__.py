"""Framework integrations: Lightning, Hugging Face Trainer, Accelerate, any TensorBoard user.

Each module imports its framework when it is itself imported, never before: `import
localtrack` imports none of them, and no framework is a dependency of localtrack.

    from localtrack.integrations.lightning import LocaltrackLogger
    from localtrack.integrations.transformers import LocaltrackCallback
    from localtrack.integrations.accelerate import LocaltrackTracker
    localtrack.patch_tensorboard()  # localtrack.integrations.tensorboard_patch

What each logs, under which keys and on which ranks: docs/INTEGRATIONS.md.
"""
