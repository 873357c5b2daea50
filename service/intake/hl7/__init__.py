"""HL7 v2 SIU intake: parse scheduling messages, acknowledge them, listen on MLLP.

The way through::

    bytes on TCP --listener (MLLP frames, charset)--> text
         --parse--> ScheduleMessage (plain frozen dataclasses, schedule.py)
         --ScheduleSink.apply--> SinkResult (the store step plugs in here, sink.py)
         --ack--> ACK text (AA / AE with ERR / AR) --listener--> bytes on TCP

``phones`` and ``service.intake.language`` turn what a message says into what a call
needs (an E.164 number, one of our language codes); the store step calls them with the
clinic's country.
"""
