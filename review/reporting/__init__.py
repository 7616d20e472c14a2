"""Reading results: a study's judgments as a DataFrame, the analysis runner, text and number
formatting, plotly figures and the self-contained HTML report, and database counts.
"""
