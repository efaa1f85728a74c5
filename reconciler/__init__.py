"""The reconciler: the cold path.

It scores the quality of newly collected policies and promotes them (``quality``,
``promotion``), archives duplicates published by several sources (``duplicates``), and
compares PostgreSQL's active view with every target to find and repair drift (``drift``,
``repair``, ``report``). ``runner`` ties one pass together; ``aegis reconcile`` runs it.
"""
