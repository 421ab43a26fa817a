"""The ground floor's ground floor: what every app may import and which imports no app of ours.

`conf.py` (every AUTHPORTAL_* setting: its default, bounds and meaning, read through `app_settings`),
`http.py` (the request as our middleware leaves it), `schedule.py` (the beat schedule).
"""
