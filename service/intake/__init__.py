"""Faces for scheduling systems that speak their own formats: HL7 v2 over MLLP (``hl7``).

An intake face parses what a hospital's system sends, answers in that system's own terms
(an HL7 ACK) and hands a plain, parsed message to the records below; it holds no
business rule of its own.
"""
