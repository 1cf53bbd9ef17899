"""Errors the app shows to people. Every message names the bad value and says what to do."""


class CoreError(Exception):
    """Base class: pages catch this (and only this) and show the message."""


class InputError(CoreError):
    """The user's input cannot be used as it is."""


class EmptyInputError(InputError):
    pass


class InputTooLongError(InputError):
    pass


class UnknownModelError(CoreError):
    pass


class ModelUnavailableError(CoreError):
    """The model exists in the catalog but cannot be used right now (offline, not trained yet)."""


class IntegrityError(CoreError):
    """A weight file does not match its pinned sha256."""


class UnsafeNameError(CoreError):
    """A name that could reach outside the places LM Lab owns."""


class JobError(CoreError):
    pass


class JobLimitError(JobError):
    pass


class JobCancelled(JobError):
    pass


class DataError(CoreError):
    pass
