"""The server-rendered pages: login, the role-aware home, the consultant workspace and matching.

Plain modules, not an installed app: views call the services of `support` and `scheduler`
and read only through `Model.objects.for_user(request.user)`, so a page can never show more
than the API would. Anything outside a user's scope is a 404, never a 403, so a page does not
even confirm that a record exists.
"""
