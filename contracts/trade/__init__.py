"""The trade_documents contract, split by subject: norm (normalisation, fingerprints),
state (records, parameters, the rules), documents, financing, letters_of_credit."""
