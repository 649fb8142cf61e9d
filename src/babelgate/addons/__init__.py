"""Addons: features that see each request, each upstream body, each stream event and each error.

Built-in features use exactly the hooks a third party would (addons/base.py). They are listed
once, in `babelgate/registry.py` (`BUILTIN_ADDONS`), in the order their hooks run, and are all
on unless the config's `addons:` section switches one off; a third-party addon is named there
by its import path:

    addons:
      context_overflow: false          # a built-in, switched off
      "mypackage.audit:AuditAddon": true
"""
