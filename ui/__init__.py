"""The Kivy kit shared by the POS and the kiosk: fonts, theme, translations, widgets, helpers.

Importing ``ui`` itself loads nothing: Kivy reads its environment (``SDL_VIDEODRIVER``, ``KIVY_HOME``…) and
opens a window as a side effect of its own imports, so whoever starts an app (``lovemart``, a test harness)
must get to set that environment first. Import the submodules you need:

- ``ui.messages``   what the kit says for an exception, plain Python (the words: ``ledger.messages``)
- ``ui.fonts``      find and register the Simplified Chinese font as Kivy's default
- ``ui.theme``      palette and window-height-relative sizes
- ``ui.i18n``       the runtime translator behind ``_('msgid')`` in ``.kv`` files
- ``ui.app``        ``KitApp``: the App base class that installs all of the above
- ``ui.widgets``    BigButton, NumericKeypad (and KeyboardToKeypad), MessageBanner, ConfirmDialog, toast, HeaderBar
- ``ui.background`` run slow work off the UI thread, results back through ``Clock``
- ``ui.lockdown``   kiosk lock-down (no Escape, no close, no F1 settings, no cursor)
- ``ui.scanning``   scanner threads and keyboard-wedge keystrokes to the UI thread
- ``ui.preview``    CameraPreview: the camera's newest frame as a mirror, to aim a passbook by
"""
