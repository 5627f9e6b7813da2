"""Tables and figures for people: sample grids, paper tables with the papers' numbers beside ours."""
