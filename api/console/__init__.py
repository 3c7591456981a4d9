"""The web console: server-rendered pages over the API's own machinery.

Hospital IT, inspectors, the Department and admins sign in with local accounts
(``phiwatch users add``) and get the same JWT the API takes, in a cookie. Every page calls
the API's route functions and the service layer under the caller's role, hospital scope
and pseudonyms, and every page that shows patient identifiers writes the same access
audit record as the API. ``api.console.mount.mount_console`` adds it to the application.
"""
