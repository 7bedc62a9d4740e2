"""Reports of a study and its validation batch: one document model
(:mod:`.document`), rendered as self-contained HTML (:mod:`.html`) and PDF
(:mod:`.pdf`), with pictures drawn by :mod:`.figures`."""
