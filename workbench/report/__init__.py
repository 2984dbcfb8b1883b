"""The HTML report: tidy summaries, figures, sections and the page that holds them."""
