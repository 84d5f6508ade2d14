"""Event intake: validate events from SOAP and REST, store them durably, return their ids."""
