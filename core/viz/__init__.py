"""Figure builders: return plotly figures or HTML strings, never draw."""
