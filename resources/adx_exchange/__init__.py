"""AWS Data Exchange clients: the boto3 one and the local backend, behind one protocol.
"""
