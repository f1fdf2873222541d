"""Case photos (issue 22): the checks of an uploaded file, its EXIF read and stripped, the renditions, the
media store (a local folder or an S3 bucket), the attachments service the pages call, the session-checked
``/media/…`` route that serves them and the retention job that removes unreferenced objects.

No Streamlit here: the capture widgets and galleries are ``dashboard.ui.photos`` and ``photo_views``.
"""
