"""The monthly documents: the month's folder, scorecards per unit and the ranked lists, in Vietnamese.

`month_folder` builds the month's folder from the warehouse and moves it into place whole;
`model` is the data contract it fills; `render` turns it into PDF, XLSX and PNG.
"""
