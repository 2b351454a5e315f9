# Fuzz targets of SMPP and modem bytes, the people CSV, the config, command text and the SDK's codecs.
villagebot_fuzz_target(smpp_pdu LIBS smpp_pdu_lib)
villagebot_fuzz_target(modem_at LIBS modem_pdu_lib)
villagebot_fuzz_target(sms_pdu LIBS modem_pdu_lib)
villagebot_fuzz_target(people_csv LIBS villagebot_parsers)
villagebot_fuzz_target(config LIBS villagebot_parsers)
villagebot_fuzz_target(command_text LIBS villagebot_parsers)
villagebot_fuzz_target(sdk_codecs LIBS villagebot::sdk)
