"""The monthly documents (issue 6): scorecards per unit and the ranked lists, in Vietnamese.

`model` is the data contract the warehouse fills; `render` turns it into PDF, XLSX and PNG.
"""
