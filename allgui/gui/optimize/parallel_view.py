"""The Optimize tab's parallel-coordinate view (drawn by :mod:`.parallel`),
kept in the user's zoom as trials arrive, and filtered by a range dragged
along an axis."""

from __future__ import annotations

from allgui.gui.optimize.parallel import BAR_POINTS, draw_parallel, place_colour_bar


class ParallelView:
    """Mixed into :class:`~allgui.gui.optimize.plots.OptimizePlots` (which has
    ``book``, ``parallel``, ``objective_name`` and ``maximize``)."""

    def _setup_parallel(self) -> None:
        """The colour bar's axes, the zoom kept, and the filter's mouse handlers."""
        self._cax = self.parallel.figure.add_axes([0.92, 0.2, 0.02, 0.6])
        self._cax.set_visible(False)
        self.parallel_drawn: dict = {}
        self._parallel_view = None  # the limits drawn last; others are the user's zoom
        self.parallel.fit_requested.connect(lambda: setattr(self, "_parallel_view", None))
        # the parallel view's filter: per column, the span the user dragged on it
        self.parallel_ranges: dict[str, tuple[float, float]] = {}
        self._brush_start: tuple[int, float] | None = None
        self.parallel.canvas.mpl_connect("button_press_event", self._brush_pressed)
        self.parallel.canvas.mpl_connect("button_release_event", self._brush_released)
        self.parallel.canvas.setToolTip("Drag up or down along an axis to keep the trials "
                                        "within that range; click the axis to clear it")

    def _parallel_data(self) -> tuple:
        return (self.book.complete(), self.book.param_names(), self.objective_name, self.maximize,
                dict(self.parallel_ranges))

    # -- the parallel view's filter: a range dragged on an axis ---------------------
    def _brush_column(self, event) -> int | None:
        scales = self.parallel_drawn.get("scales")
        if not scales or event.inaxes is not self.parallel.ax or event.xdata is None:
            return None
        column = int(round(event.xdata))
        return column if 0 <= column < len(scales) and abs(event.xdata - column) < 0.3 else None

    def _brush_pressed(self, event) -> None:
        toolbar = getattr(self.parallel, "toolbar", None)
        if toolbar is not None and toolbar.mode:  # zooming or panning, not filtering
            return
        column = self._brush_column(event)
        self._brush_start = (column, event.ydata) if column is not None else None

    def _brush_released(self, event) -> None:
        start, self._brush_start = self._brush_start, None
        if start is None or event.ydata is None:
            return
        column, y0 = start
        y1 = min(max(event.ydata, 0.0), 1.0)
        self.set_parallel_range(column, y0, y1)

    def set_parallel_range(self, column: int, y0: float, y1: float) -> None:
        """Keep the trials whose line crosses ``column`` between ``y0`` and ``y1``
        (0..1 along the axis); a span too small to be a drag clears the column."""
        name = self.parallel_drawn["scales"][column].name
        lo, hi = sorted((min(max(y0, 0.0), 1.0), min(max(y1, 0.0), 1.0)))
        if hi - lo < 0.02:
            self.parallel_ranges.pop(name, None)
        else:
            self.parallel_ranges[name] = (lo, hi)
        self.parallel.request_redraw()

    def _update_parallel(self, data: tuple | None = None) -> None:
        trials, names, objective, maximize, ranges = (data if data is not None
                                                      else self._parallel_data())
        ax = self.parallel.ax
        before = (ax.get_xlim(), ax.get_ylim())
        ax.clear()
        self.parallel.apply_palette()
        if len(trials) < 2:
            self._cax.set_visible(False)
            self.parallel_drawn = {"colorbar": self.parallel_drawn.get("colorbar")}
            self._parallel_view = None
            ax.text(0.5, 0.5, "The parallel-coordinate view appears after two complete trials.",
                    ha="center", va="center", transform=ax.transAxes, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            return
        top, bottom = 30, 40  # the columns' names on two lines (see column_words)
        self.parallel.set_margins(left=44, bottom=bottom, right=BAR_POINTS + 8, top=top)
        self._cax.set_visible(True)
        place_colour_bar(self.parallel.figure, self._cax, BAR_POINTS, top, bottom)
        self.parallel_drawn = draw_parallel(self.parallel.figure, ax, self._cax, trials, names,
                                            objective, maximize,
                                            self.parallel_drawn.get("colorbar"), ranges)
        auto = (ax.get_xlim(), ax.get_ylim())
        if self._parallel_view is not None and before != self._parallel_view:
            ax.set_xlim(*before[0])  # zoomed by the user: the new lines keep that view
            ax.set_ylim(*before[1])
        self._parallel_view = auto

    def parallel_zoomed(self) -> bool:
        ax = self.parallel.ax
        return self._parallel_view is not None and (ax.get_xlim(), ax.get_ylim()) != \
            self._parallel_view
