"""
clientApproval

When a client approves a Version (its "Client Approved" box, client_approved, is ticked),
record who approved it and when, mark the Version and its Task approved, and leave the artist
a Note on the Version. The Note sends no email: the client said it in the review already.

A studio plugin in the shotgunEvents daemon's own style (untyped, camelCase): it runs the same
under a daemon install and here.

Script user: SGDAEMON_CLIENTAPPROVAL_NAME / SGDAEMON_CLIENTAPPROVAL_KEY
"""

import os


def registerCallbacks(reg):
    matchEvents = {
        'Shotgun_Version_Change': ['client_approved'],
    }
    reg.registerCallback(
        os.environ.get('SGDAEMON_CLIENTAPPROVAL_NAME'),
        os.environ.get('SGDAEMON_CLIENTAPPROVAL_KEY'),
        clientApproved,
        matchEvents,
        {'versionStatus': 'apr', 'taskStatus': 'apr'},
    )
    reg.setEmails('pipeline@studio.example')


def clientApproved(sg, logger, event, args):
    if not event['meta'].get('new_value'):
        return  # the box was cleared: nothing to record
    if not event['entity']:
        return  # retired since
    versionId = event['entity']['id']
    version = sg.find_one(
        'Version',
        [['id', 'is', versionId]],
        ['code', 'project', 'sg_task', 'user', 'client_approved_at'],
    )
    if version is None:
        logger.warning('Version %s no longer exists', versionId)
        return
    if version['client_approved_at']:
        logger.info('%s was already approved on %s', version['code'], version['client_approved_at'])
        return

    approver = event['user']
    data = {
        'client_approved_at': event['created_at'],
        'sg_status_list': args['versionStatus'],
    }
    if approver and approver['type'] == 'HumanUser':
        data['client_approved_by'] = approver
    sg.update('Version', versionId, data)
    if version['sg_task']:
        sg.update('Task', version['sg_task']['id'], {'sg_status_list': args['taskStatus']})

    artist = version['user']
    if artist and artist['type'] == 'HumanUser':
        status = statusName(sg, args['versionStatus'])
        sg.create('Note', {
            'project': version['project'],
            'subject': '%s: %s by the client' % (version['code'], status),
            'content': 'Approved in review by %s.' % ((approver or {}).get('name') or 'the client'),
            'note_links': [{'type': 'Version', 'id': versionId}],
            'addressings_to': [artist],
            'sg_note_type': 'Client',
            'suppress_email_notif': True,
        })
    logger.info('%s approved by %s', version['code'], (approver or {}).get('name'))


def statusName(sg, code):
    status = sg.find_one('Status', [['code', 'is', code]], ['name'])
    return status['name'] if status else code
