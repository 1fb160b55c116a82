"""Publishing: rendered notifications to the notifications API over HTTP."""
